//! A site-wide check that every internal link resolves: starting from the home
//! page, follow every `href` and `src` on our own pages (up to a bound) and
//! require a 200. Test-only; the site itself has no crawler.

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, VecDeque};

    use axum::http::StatusCode;
    use scraper::Selector;

    use crate::testing::TestApp;

    #[tokio::test]
    async fn every_internal_link_resolves() {
        let app = TestApp::new().await;
        crate::demo::load(&app.db.pool, &app.ledger(), crate::demo::DEFAULT_SEED).await.expect("demo");
        let links = Selector::parse("a[href], link[href], img[src], script[src]").expect("selector");
        let mut queue: VecDeque<String> = VecDeque::from(["/".to_owned()]);
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut pages = 0;
        while let Some(path) = queue.pop_front() {
            if !seen.insert(path.clone()) || seen.len() > 400 {
                continue;
            }
            let response = app.get(&path).await;
            assert_eq!(response.status, StatusCode::OK, "{path} is linked but answers {}", response.status);
            if !response.header("content-type").starts_with("text/html") {
                continue;
            }
            pages += 1;
            for element in response.html().0.select(&links) {
                let target = element.value().attr("href").or_else(|| element.value().attr("src")).unwrap_or_default();
                // Own pages only; ledger entries are thousands of pages of one template, so
                // only the first few are followed.
                let internal = target.starts_with('/') && !target.starts_with("//");
                let entry_page = target.starts_with("/ledger/entries/")
                    && target.trim_start_matches("/ledger/entries/").parse::<u64>().is_ok_and(|i| i > 5);
                if internal && !entry_page {
                    let clean = target.split('#').next().unwrap_or_default().replace("&amp;", "&");
                    queue.push_back(clean);
                }
            }
        }
        assert!(pages > 20, "only {pages} pages reached");
    }
}
