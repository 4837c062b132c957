//! Atom 1.0 feeds (RFC 4287) of new disclosures: `/feed.atom` for all providers,
//! `/providers/{slug}/feed.atom` for one, and `/feeds/{kind}.atom` for one record kind.
//! One item per accepted entry, newest first, titled with the figure it states in words;
//! every IRI is absolute, built from the site's public URL, and an entry's id is its
//! ledger page's URL (stable: entries never change).

use std::collections::HashMap;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use sqlx::PgConnection;

use crate::AppState;
use crate::api::extract::Path;
use crate::db;
use crate::db::ledger::EntryRow;
use crate::error::{AppError, PageError};
use crate::ledger::entry::format_received_at;
use crate::records::{Record, RecordKind};
// The one wording of a disclosure, shared with the pages' lists; re-exported where it began.
pub use super::disclosure_words::describe;
use super::disclosure_words::{report_about, third_party_words, unreadable_figure};

/// Items per feed: the newest entries only, so a feed costs the same at any ledger size.
const ITEMS: i64 = 50;

#[derive(Template)]
#[template(path = "feed.xml")]
pub struct Feed {
    /// Feed title.
    pub title: String,
    /// What it lists.
    pub subtitle: String,
    /// The feed's own absolute URL, also its id.
    pub self_url: String,
    /// The HTML page it belongs to.
    pub alternate: String,
    /// When the ledger accepted the newest entry (now, for an empty feed).
    pub updated: String,
    /// Newest first.
    pub entries: Vec<FeedEntry>,
}

/// One entry of a feed, in words.
pub struct FeedEntry {
    /// The entry's ledger page: its link and its id.
    pub url: String,
    /// The figure it states, e.g. "Corvid GPU: newcomer set-aside acceptance of students 26.3 % in October 2026".
    pub title: String,
    /// The same, with the rest of the record.
    pub summary: String,
    /// When the ledger accepted it.
    pub updated: String,
    /// The provider's name.
    pub author: String,
    /// The provider's page.
    pub author_url: String,
    /// Its record kind (an Atom category).
    pub kind: String,
}

/// The path of the feed of one record kind.
pub fn kind_path(kind: RecordKind) -> String {
    format!("/feeds/{}.atom", kind.as_str())
}

/// The title of the feed of one record kind.
pub fn kind_title(kind: RecordKind) -> String {
    format!("Gatelog: {}", kind_words(kind).0)
}

fn respond(feed: &Feed) -> Response {
    match feed.render() {
        Ok(xml) => {
            let mut response = xml.into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/atom+xml; charset=utf-8"));
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
            response
        }
        Err(error) => PageError(AppError::Render(error)).into_response(),
    }
}

/// `/feed.atom`.
pub async fn all(State(state): State<AppState>) -> Result<Response, PageError> {
    let mut conn = state.pool.acquire().await?;
    let newest = db::ledger::recent_entries(&mut conn, ITEMS, None).await?;
    let entries = entries(&state, &mut conn, newest.iter().map(|e| e.index).collect()).await?;
    Ok(respond(&feed(
        &state,
        "Gatelog: new disclosures".into(),
        "Every record providers file with Gatelog, newest first.".into(),
        "/feed.atom",
        "/",
        entries,
    )))
}

/// `/providers/{slug}/feed.atom`.
pub async fn provider(State(state): State<AppState>, Path(slug): Path<String>) -> Result<Response, PageError> {
    let mut conn = state.pool.acquire().await?;
    let parsed = crate::records::Slug::parse(&slug).map_err(|_| AppError::NotFound)?;
    let provider = db::providers::get(&mut conn, &parsed).await?.ok_or(AppError::NotFound)?;
    let newest = db::ledger::recent_entries(&mut conn, ITEMS, Some(&slug)).await?;
    let entries = entries(&state, &mut conn, newest.iter().map(|e| e.index).collect()).await?;
    let name = xml_text(&provider.display_name);
    Ok(respond(&feed(
        &state,
        format!("Gatelog: disclosures of {name}"),
        format!("Every record {name} files with Gatelog, newest first."),
        &format!("/providers/{slug}/feed.atom"),
        &format!("/providers/{slug}"),
        entries,
    )))
}

/// `/feeds/{kind}.atom`.
pub async fn kind(State(state): State<AppState>, Path(file): Path<String>) -> Result<Response, PageError> {
    let kind = file
        .strip_suffix(".atom")
        .and_then(|name| RecordKind::OPTIONS.iter().find(|(n, _)| *n == name))
        .map(|(_, kind)| *kind)
        .ok_or(AppError::NotFound)?;
    let mut conn = state.pool.acquire().await?;
    let newest = db::ledger::newest_of_kind(&mut conn, kind.as_str(), ITEMS).await?;
    let entries = entries(&state, &mut conn, newest).await?;
    let (words, page) = kind_words(kind);
    Ok(respond(&feed(
        &state,
        kind_title(kind),
        format!("The newest {words} of every provider filed with Gatelog."),
        &kind_path(kind),
        page,
        entries,
    )))
}

/// What a kind's feed lists, in its title, and the dashboard that shows the kind.
fn kind_words(kind: RecordKind) -> (&'static str, &'static str) {
    match kind {
        RecordKind::QueueTime => ("queue-time disclosures", "/metrics/queue-times"),
        RecordKind::Acceptance => ("acceptance disclosures", "/metrics/acceptance"),
        RecordKind::Price => ("price disclosures", "/metrics/prices"),
        RecordKind::Lockup => ("lock-up disclosures", "/lockups"),
        RecordKind::Capacity => ("capacity disclosures", "/metrics/capacity"),
        RecordKind::Energy => ("energy disclosures", "/metrics/energy"),
    }
}

fn feed(state: &AppState, title: String, subtitle: String, path: &str, page: &str, entries: Vec<FeedEntry>) -> Feed {
    let updated = entries.first().map_or_else(|| format_received_at(chrono::Utc::now()), |entry| entry.updated.clone());
    Feed {
        title,
        subtitle,
        self_url: format!("{}{path}", state.public_url),
        alternate: format!("{}{page}", state.public_url),
        updated,
        entries,
    }
}

/// The feed entries of the given ledger indexes, newest first, in words.
async fn entries(state: &AppState, conn: &mut PgConnection, indexes: Vec<u64>) -> Result<Vec<FeedEntry>, sqlx::Error> {
    let mut rows = db::ledger::entries_by_index(conn, &indexes).await?;
    rows.sort_by_key(|row| std::cmp::Reverse(row.index));
    let values: Vec<serde_json::Value> =
        rows.iter().map(|row| serde_json::from_slice(&row.bytes).unwrap_or(serde_json::Value::Null)).collect();
    let mut slugs: Vec<&str> = rows.iter().map(|row| row.provider.as_str()).collect();
    slugs.extend(rows.iter().zip(&values).filter_map(|(row, value)| report_about(&row.kind, &value["record"])));
    slugs.sort_unstable();
    slugs.dedup();
    let names = db::providers::display_names(conn, &slugs).await?;
    Ok(rows
        .iter()
        .zip(&values)
        .map(|(row, value)| {
            let name = names.get(&row.provider).map_or(row.provider.as_str(), String::as_str);
            entry(&state.public_url, row, value, name, &names)
        })
        .collect())
}

/// One entry in words. Its record is decoded the one way every reader decodes it
/// ([`Record::from_entry`]); one that no longer decodes says so instead of guessing.
/// Reports and answers are worded by [`third_party_words`].
fn entry(
    public_url: &str,
    row: &EntryRow,
    value: &serde_json::Value,
    name: &str,
    names: &HashMap<String, String>,
) -> FeedEntry {
    let name = xml_text(name);
    if let Some((title, summary)) = third_party_words(&row.kind, &name, &value["record"], names) {
        return FeedEntry {
            url: format!("{public_url}/ledger/entries/{}", row.index),
            title: xml_text(&title),
            summary: xml_text(&format!("{summary} Ledger entry {}.", row.index)),
            updated: format_received_at(row.received_at),
            author: name,
            // A reporter has no scorecard: its report's own page names it and its sources.
            author_url: if row.kind == crate::records::reports::REPORT {
                format!("{public_url}/ledger/entries/{}", row.index)
            } else {
                format!("{public_url}/providers/{}", row.provider)
            },
            kind: row.kind.clone(),
        };
    }
    let (title, summary) = match Record::from_entry(&row.kind, value["record"].clone()) {
        Ok(record) => describe(&name, &record, row.supersedes),
        Err(unreadable) => (
            format!("{name}: {}", unreadable_figure(&row.kind)),
            format!(
                "Ledger entry {} by {name} cannot be read under today's rules ({}), so it is left out of every figure.",
                row.index, unreadable.reason
            ),
        ),
    };
    FeedEntry {
        url: format!("{public_url}/ledger/entries/{}", row.index),
        title: xml_text(&title),
        summary: xml_text(&format!("{summary} Ledger entry {}.", row.index)),
        updated: format_received_at(row.received_at),
        author: name,
        author_url: format!("{public_url}/providers/{}", row.provider),
        kind: row.kind.clone(),
    }
}

/// Text with the characters XML 1.0 cannot carry at all removed (control characters
/// other than tab and newlines, U+FFFE, U+FFFF: <https://www.w3.org/TR/xml/#charsets>);
/// markup characters are escaped by the template.
fn xml_text(text: &str) -> String {
    text.chars()
        .filter(|c| matches!(c, '\t' | '\n' | '\r') || (*c >= ' ' && !matches!(c, '\u{FFFE}' | '\u{FFFF}')))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use axum::http::StatusCode;
    use chrono::DateTime;
    use serde_json::json;

    use super::*;
    use crate::testing::{TestApp, raw_entry};

    const ATOM: &str = "http://www.w3.org/2005/Atom";
    const PUBLIC: &str = "https://gatelog.example.org";

    /// What a test reads of an Atom entry.
    #[derive(Debug)]
    struct Item {
        id: String,
        title: String,
        summary: String,
        updated: String,
        link: String,
        author: String,
        category: String,
    }

    fn children<'a>(node: roxmltree::Node<'a, 'a>, name: &str) -> Vec<roxmltree::Node<'a, 'a>> {
        node.children().filter(|n| n.has_tag_name((ATOM, name))).collect()
    }

    /// The one child `name` of `node`, its text.
    fn one(node: roxmltree::Node, name: &str) -> String {
        let found = children(node, name);
        assert_eq!(found.len(), 1, "<{}> must have exactly one <{name}>", node.tag_name().name());
        found[0].text().unwrap_or_default().to_owned()
    }

    fn link(node: roxmltree::Node, rel: &str) -> String {
        let links: Vec<_> = children(node, "link").into_iter().filter(|l| l.attribute("rel") == Some(rel)).collect();
        assert_eq!(links.len(), 1, "one link rel={rel} in <{}>", node.tag_name().name());
        let href = links[0].attribute("href").expect("href").to_owned();
        assert!(href.starts_with(&format!("{PUBLIC}/")), "{rel} link {href} is not absolute under {PUBLIC}");
        href
    }

    fn rfc3339(text: &str) -> DateTime<chrono::FixedOffset> {
        DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{text:?} is not an RFC 3339 date-time: {e}"))
    }

    /// Serves `path`, checks it is an Atom feed with every element RFC 4287 requires
    /// (section 4.1.1: feed id, title, updated, an author for every entry; 4.1.2: entry
    /// id, title, updated; 4.2.7: an alternate link for entries without content), absolute
    /// links under the public URL, unique ids and the feed's `updated` = its newest entry's,
    /// and returns its entries.
    async fn atom(app: &TestApp, path: &str) -> Vec<Item> {
        let response = app.get(path).await;
        response.assert_status(StatusCode::OK);
        assert_eq!(response.header("content-type"), "application/atom+xml; charset=utf-8");
        let xml = response.text();
        let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{path} is not XML: {e}\n{xml}"));
        let feed = doc.root_element();
        assert!(feed.has_tag_name((ATOM, "feed")), "{path}: root is {:?}", feed.tag_name());
        assert!(!one(feed, "title").is_empty());
        let feed_id = one(feed, "id");
        assert_eq!(link(feed, "self"), format!("{PUBLIC}{path}"));
        assert_eq!(feed_id, format!("{PUBLIC}{path}"));
        link(feed, "alternate");
        let feed_updated = rfc3339(&one(feed, "updated"));
        let feed_author = !children(feed, "author").is_empty();
        let mut ids = HashSet::from([feed_id]);
        let items: Vec<Item> = children(feed, "entry")
            .into_iter()
            .map(|entry| {
                let authors = children(entry, "author");
                assert!(feed_author || !authors.is_empty(), "{path}: an entry without an author");
                let item = Item {
                    id: one(entry, "id"),
                    title: one(entry, "title"),
                    summary: one(entry, "summary"),
                    updated: one(entry, "updated"),
                    link: link(entry, "alternate"),
                    author: authors.first().map(|a| one(*a, "name")).unwrap_or_default(),
                    category: children(entry, "category")[0].attribute("term").unwrap_or_default().to_owned(),
                };
                rfc3339(&item.updated);
                assert!(ids.insert(item.id.clone()), "{path}: id {} is not unique", item.id);
                assert!(!item.title.is_empty() && !item.summary.is_empty());
                item
            })
            .collect();
        if let Some(newest) = items.iter().map(|i| rfc3339(&i.updated)).max() {
            assert_eq!(feed_updated, newest, "{path}: the feed's updated is its newest entry's");
        }
        items
    }

    fn at_public_url(mut app: TestApp) -> TestApp {
        app.state = app.state.clone().with_public_url(&format!("{PUBLIC}/"));
        let static_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static");
        app.router = crate::app(app.state.clone(), &static_dir);
        app
    }

    /// The ledger index an item links to (its id is the same page).
    fn index_of(item: &Item) -> u64 {
        assert_eq!(item.id, item.link, "an entry's id is its ledger page");
        item.link.strip_prefix(&format!("{PUBLIC}/ledger/entries/")).and_then(|i| i.parse().ok()).expect("entry link")
    }

    #[tokio::test]
    async fn every_feed_of_the_demo_is_valid_atom_with_absolute_links_and_acceptance_times() {
        let app = at_public_url(TestApp::with_demo().await);
        let mut conn = app.db.pool.acquire().await.expect("conn");

        let all = atom(&app, "/feed.atom").await;
        assert_eq!(all.len(), ITEMS as usize);
        let indexes: Vec<u64> = all.iter().map(index_of).collect();
        assert!(indexes.windows(2).all(|w| w[0] > w[1]), "newest first: {indexes:?}");
        assert_eq!(indexes[0], app.tree_size().await - 1);
        // `updated` is when the ledger accepted each entry (the demo's are spread over months).
        let rows: HashMap<u64, EntryRow> = db::ledger::entries_by_index(&mut conn, &indexes)
            .await
            .expect("rows")
            .into_iter()
            .map(|row| (row.index, row))
            .collect();
        for item in &all {
            let row = &rows[&index_of(item)];
            assert_eq!(rfc3339(&item.updated), row.received_at, "{item:?}");
            assert_eq!(item.category, row.kind);
            // Titled by the provider's name and the figure, not "price from corvid-gpu".
            assert!(item.title.starts_with(&format!("{}: ", item.author)), "{item:?}");
            assert!(item.summary.ends_with(&format!("Ledger entry {}.", row.index)), "{item:?}");
            assert_eq!(item.title.ends_with(", amended"), row.supersedes.is_some(), "{item:?}");
        }

        let scorecard = app.get("/providers/corvid-gpu").await.html();
        let selector = "head link[rel=alternate][href=\"/providers/corvid-gpu/feed.atom\"]";
        assert_eq!(scorecard.attr_of(selector, "type"), "application/atom+xml");
        let theirs = atom(&app, "/providers/corvid-gpu/feed.atom").await;
        assert!(!theirs.is_empty());
        // The demo files its history over months: a provider's entries were accepted at different times.
        let distinct: HashSet<&str> = theirs.iter().map(|i| i.updated.as_str()).collect();
        assert!(distinct.len() > 1, "{distinct:?}");
        for item in &theirs {
            assert_eq!(item.author, "Corvid GPU (demo)");
            // Its disclosures read "Corvid GPU (demo): …", its answers "Corvid GPU (demo) disputes report #…".
            assert!(item.title.starts_with("Corvid GPU (demo)"), "{}", item.title);
        }

        for (name, kind) in RecordKind::OPTIONS {
            let path = kind_path(*kind);
            let items = atom(&app, &path).await;
            assert!(!items.is_empty(), "{path}");
            assert!(items.iter().all(|i| i.category == *name), "{path}");
            let newest: i64 = sqlx::query_scalar("SELECT max(idx) FROM ledger_entries WHERE kind = $1")
                .bind(name)
                .fetch_one(&mut *conn)
                .await
                .expect("newest");
            assert_eq!(index_of(&items[0]) as i64, newest, "{path}");
            // The page the feed belongs to exists and links the feed for readers that discover feeds.
            let page = app.get(kind_words(*kind).1).await;
            page.assert_status(StatusCode::OK);
            let selector = format!("head link[rel=alternate][href=\"{path}\"]");
            assert_eq!(page.html().attr_of(&selector, "type"), "application/atom+xml", "{path}");
        }
        for missing in ["/feeds/water.atom", "/feeds/price", "/feeds/price.rss", "/providers/nobody/feed.atom"] {
            app.get(missing).await.assert_status(StatusCode::NOT_FOUND);
        }
    }

    #[tokio::test]
    async fn titles_state_the_figure_say_amended_and_name_unreadable_entries() {
        let app = at_public_url(TestApp::with_demo().await);
        let token = app.provider_token("corvid-gpu").await;
        let acceptance = |accepted: u64| {
            json!({"kind": "acceptance", "period_start": "2026-10-01", "period_end": "2026-11-01",
                   "track": "newcomer_set_aside", "applicant_category": "student",
                   "received": 1000, "accepted": accepted, "rejected": 737})
            .to_string()
        };
        for accepted in [200, 263] {
            app.post("/api/v1/records", "application/json", acceptance(accepted), Some(&token), &[])
                .await
                .assert_status(StatusCode::CREATED);
        }
        let lockup = json!({"kind": "lockup", "counterparty": "<Acme & \"Sons\">", "resource": "nvidia-b200",
            "region": "us-east", "accelerators": 512, "start_date": "2026-12-01", "exclusivity": "exclusive",
            "disclosure_date": "2026-11-20"});
        app.post("/api/v1/records", "application/json", lockup.to_string(), Some(&token), &[])
            .await
            .assert_status(StatusCode::CREATED);
        let ledger = app.ledger();
        let bad =
            raw_entry("corvid-gpu", "capacity", "2026-12-01|x|y", json!({"as_of": "2026-12-01", "total": 5}), None);
        ledger.append(&app.db.pool, &[bad]).await.expect("the ledger takes any JSON");

        let items = atom(&app, "/providers/corvid-gpu/feed.atom").await;
        assert_eq!(items[0].title, "Corvid GPU (demo): an entry (capacity) that no longer decodes under today's rules");
        assert!(items[0].summary.contains("left out of every figure"), "{}", items[0].summary);
        assert_eq!(
            items[1].title,
            "Corvid GPU (demo): 512 nvidia-b200 in us-east locked up for <Acme & \"Sons\"> (exclusive) from 1 December 2026"
        );
        assert_eq!(
            items[2].title,
            "Corvid GPU (demo): newcomer set-aside acceptance of students 26.3 % in October 2026, amended"
        );
        assert!(
            items[2].summary.starts_with(
                "Corvid GPU (demo) received 1000 applications from students to its newcomer set-aside track in \
                 October 2026, accepted 263 and rejected 737 (acceptance 26.3 % of those decided). It amends ledger entry "
            ),
            "{}",
            items[2].summary
        );
        let kind = atom(&app, "/feeds/acceptance.atom").await;
        assert_eq!(kind[0].title, items[2].title);
        assert_eq!(kind[0].id, items[2].id);
    }

    /// Report and answer entries used to be titled as entries that no longer decode.
    #[tokio::test]
    async fn reports_and_answers_are_titled_in_words() {
        let app = TestApp::with_demo().await;
        let mut conn = app.db.pool.acquire().await.expect("conn");
        let indexes: Vec<i64> =
            sqlx::query_scalar("SELECT idx FROM ledger_entries WHERE kind IN ('report', 'answer') ORDER BY idx")
                .fetch_all(&mut *conn)
                .await
                .expect("indexes");
        let indexes: Vec<u64> = indexes.into_iter().map(|i| i as u64).collect();
        let items = entries(&app.state, &mut conn, indexes.clone()).await.expect("entries");
        assert_eq!(items.len(), indexes.len());
        let titles: Vec<&str> = items.iter().map(|i| i.title.as_str()).collect();
        assert!(titles.iter().all(|t| !t.contains("no longer decodes")), "{titles:?}");
        assert!(
            titles.iter().any(|t| t.starts_with("Report by ")
                && t.ends_with("on Corvid GPU (demo)'s lock-up with Orbital Reasoning Co")),
            "{titles:?}"
        );
        let report = items.iter().find(|i| i.title.ends_with("lock-up with Orbital Reasoning Co")).expect("report");
        let number = report.url.rsplit('/').next().expect("index");
        assert!(titles.contains(&format!("Corvid GPU (demo) disputes report #{number}").as_str()), "{titles:?}");
        let dispute = items.iter().find(|i| i.title.contains("disputes")).expect("dispute");
        assert!(dispute.summary.contains("no reservation with Orbital Reasoning Co"), "{}", dispute.summary);
        assert!(titles.iter().any(|t| t.contains("confirms report #")), "{titles:?}");
        assert!(titles.iter().any(|t| t.contains("corrects report #")), "{titles:?}");
        let corrected = items.iter().find(|i| i.title.contains("corrects")).expect("correction");
        assert!(corrected.summary.contains("accelerators 1024"), "{}", corrected.summary);
        // Every author link opens a page: a reporter has no scorecard, so its report links to itself.
        for item in &items {
            let path = item.author_url.strip_prefix(&*app.state.public_url).expect("absolute author link");
            assert_eq!(app.get(path).await.status, 200, "{}: author link {path}", item.title);
        }
        // Lists (home, ledger, scorecards) word reports and answers as the feeds do.
        let rows = crate::db::ledger::entries_by_index(&mut conn, &indexes).await.expect("rows");
        let summaries: Vec<crate::db::ledger::EntrySummary> = rows
            .into_iter()
            .map(|row| crate::db::ledger::EntrySummary {
                index: row.index,
                provider: row.provider,
                kind: row.kind,
                received_at: row.received_at,
                supersedes: row.supersedes,
                signed: false,
            })
            .collect();
        let listed = crate::web::disclosure_words::described(&mut conn, &summaries).await.expect("described");
        assert!(listed.iter().all(|d| !d.figure.contains("no longer decodes")), "{listed:?}");
        assert!(listed.iter().any(|d| d.figure.starts_with("Report by ")), "{listed:?}");
    }

    #[test]
    fn characters_xml_cannot_carry_are_dropped() {
        assert_eq!(xml_text("a\u{0}b\u{1b}c\td\u{FFFF}é"), "abc\tdé");
    }
}
