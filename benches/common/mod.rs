//! What every benchmark needs: a fresh database, on the embedded cluster in a
//! temporary directory, or on the server in DATABASE_URL.

use gatelog::db::embedded::EmbeddedCluster;
use gatelog::db::{self, MIGRATOR};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

/// A migrated, empty database for one benchmark run; stops its cluster when finished.
pub struct BenchDatabase {
    /// Pool on the fresh database.
    pub pool: PgPool,
    options: sqlx::postgres::PgConnectOptions,
    cluster: Option<EmbeddedCluster>,
    _dir: tempfile::TempDir,
}

impl BenchDatabase {
    /// Creates the database `gatelog_bench_<name>_<pid>` and migrates it.
    pub fn create(runtime: &tokio::runtime::Runtime, name: &str) -> Self {
        let dir = tempfile::Builder::new().prefix("gl-bench-").tempdir_in("/tmp").expect("tempdir");
        let database = format!("gatelog_bench_{name}_{}", std::process::id());
        let (admin, cluster) = match std::env::var("DATABASE_URL") {
            Ok(url) if !url.is_empty() => (db::parse_database_url(&url).expect("DATABASE_URL"), None),
            _ => {
                let cluster = EmbeddedCluster::start(dir.path(), None).expect("embedded cluster");
                (cluster.connect_options("postgres"), Some(cluster))
            }
        };
        let options = admin.clone().database(&database);
        let pool = runtime.block_on(async {
            db::create_database_if_missing(&admin, &database).await.expect("create bench database");
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .connect_with(admin.database(&database))
                .await
                .expect("connect");
            MIGRATOR.run(&pool).await.expect("migrate");
            pool
        });
        Self { pool, options, cluster, _dir: dir }
    }

    /// A DATABASE_URL for the `gatelog` binary (embedded cluster only: it trusts local sockets).
    #[allow(dead_code)]
    pub fn database_url(&self) -> Option<String> {
        let cluster = self.cluster.as_ref()?;
        Some(format!(
            "postgres://{}@localhost:{}/{}?host={}",
            self.options.get_username(),
            self.options.get_port(),
            self.options.get_database().unwrap_or("postgres"),
            cluster.socket_dir().display()
        ))
    }

    /// psql's connection flags for the database (host is the socket directory for the embedded cluster).
    #[allow(dead_code)]
    pub fn psql_args(&self) -> Vec<String> {
        let host = match &self.cluster {
            Some(cluster) => cluster.socket_dir().display().to_string(),
            None => self.options.get_host().to_owned(),
        };
        vec![
            "-h".into(),
            host,
            "-p".into(),
            self.options.get_port().to_string(),
            "-U".into(),
            self.options.get_username().to_owned(),
            "-d".into(),
            self.options.get_database().unwrap_or("postgres").to_owned(),
        ]
    }

    /// Closes the pool and stops the embedded cluster.
    pub fn finish(self, runtime: &tokio::runtime::Runtime) {
        runtime.block_on(self.pool.close());
        if let Some(cluster) = self.cluster {
            cluster.stop().expect("stop cluster");
        }
    }
}
