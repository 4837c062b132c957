//! The demo data set behind `gatelog serve --demo`: a handful of fictitious
//! providers of each kind. Loading it twice changes nothing.
//! (Demo disclosures join it with the ingest issue.)

use sqlx::PgPool;

use crate::db;
use crate::providers::{NewProvider, ProviderKind};
use crate::records::Slug;

/// What loading the demo data did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoSummary {
    /// Providers that were not there before.
    pub new_providers: usize,
}

/// The demo providers: invented names, clearly marked as examples.
pub fn providers() -> Vec<NewProvider> {
    let provider = |slug: &str, name: &str, kind, country: &str| NewProvider {
        slug: Slug::parse(slug).expect("demo slugs are valid"),
        display_name: name.to_owned(),
        kind,
        country: Some(country.to_owned()),
        website: Some(format!("https://{slug}.example")),
    };
    vec![
        provider("nimbus-gpu", "Nimbus GPU Cloud (demo)", ProviderKind::GpuCloud, "US"),
        provider("rhine-ai-factory", "Rhine AI Factory (demo)", ProviderKind::AiFactory, "DE"),
        provider("nordic-hpc", "Nordic HPC Centre (demo)", ProviderKind::HpcCentre, "FI"),
        provider("lakeside-campus", "Lakeside University Campus Node (demo)", ProviderKind::CampusNode, "CA"),
    ]
}

/// Loads the demo data set in one transaction.
pub async fn load(pool: &PgPool) -> Result<DemoSummary, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut new_providers = 0;
    for provider in providers() {
        if db::providers::insert_if_missing(&mut tx, &provider).await? {
            new_providers += 1;
        }
    }
    tx.commit().await?;
    Ok(DemoSummary { new_providers })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDb;

    #[tokio::test]
    async fn loading_twice_adds_nothing_the_second_time() {
        let db = TestDb::new().await;
        let first = load(&db.pool).await.expect("first load");
        let second = load(&db.pool).await.expect("second load");
        assert_eq!(first.new_providers, providers().len());
        assert_eq!(second.new_providers, 0);
        let mut conn = db.pool.acquire().await.expect("conn");
        assert_eq!(db::providers::count(&mut conn).await.expect("count"), providers().len() as i64);
    }
}
