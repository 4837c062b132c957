//! `gatelog export snapshot|dataset`: every dataset pinned to one checkpoint, or one
//! dataset streamed as `/data/{dataset}.{format}` serves it.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{DatabaseError, Schema, with_database};
use crate::config::GlobalArgs;
use crate::datasets::snapshot::{SnapshotError, Written};
use crate::datasets::source::ExportError;
use crate::datasets::{self, Format, Source};

/// `gatelog export ...`
#[derive(Debug, Clone, Subcommand)]
pub enum ExportCommand {
    /// Write every dataset in every format, pinned to one checkpoint, with SHA256SUMS,
    /// the signed checkpoint and a Frictionless datapackage.json; never overwrites
    Snapshot {
        /// Directory to create (an existing one must be empty or hold this very snapshot)
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Pin to the checkpoint of this many entries [default: the latest]
        #[arg(long, value_name = "N")]
        tree_size: Option<u64>,
    },
    /// Stream one dataset (as /data/{dataset}.{format} serves it) to a file or stdout
    Dataset(ExportDatasetArgs),
}

/// Flags of `gatelog export dataset`.
#[derive(Debug, Clone, Args)]
pub struct ExportDatasetArgs {
    /// The dataset (as listed on /data), e.g. prices
    pub name: String,
    /// csv, ndjson or parquet
    #[arg(long, default_value = "csv")]
    pub format: String,
    /// Output file [default: stdout]
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Only this provider
    #[arg(long)]
    pub provider: Option<String>,
    /// Only this resource
    #[arg(long)]
    pub resource: Option<String>,
    /// Only this region
    #[arg(long)]
    pub region: Option<String>,
    /// Only this record kind (entries, compliance)
    #[arg(long)]
    pub kind: Option<String>,
    /// From this date (YYYY-MM-DD)
    #[arg(long)]
    pub from: Option<String>,
    /// Up to this date (YYYY-MM-DD)
    #[arg(long)]
    pub to: Option<String>,
    /// Every version of each record, with the amendment chain
    #[arg(long)]
    pub include_superseded: bool,
}

/// Why `gatelog export` failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No dataset has this name.
    #[error("no dataset {name:?}; datasets: {known}")]
    UnknownDataset {
        /// The name given.
        name: String,
        /// The datasets there are, comma-separated.
        known: String,
    },
    /// `--format` is none of the formats.
    #[error("--format {0:?}: use csv, ndjson or parquet")]
    Format(String),
    /// A filter flag's value is refused.
    #[error("--{flag}: {reason}")]
    Filter {
        /// The flag, without its dashes.
        flag: String,
        reason: String,
    },
    /// The output file could not be created.
    #[error("{}: {source}", path.display())]
    Create { path: PathBuf, source: std::io::Error },
    /// The dataset could not be rendered or written.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// The ledger could not be read at the checkpoint, or the snapshot written.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// The database could not be opened, migrated or closed.
    #[error(transparent)]
    Database(#[from] DatabaseError),
}

pub async fn run(global: &GlobalArgs, command: &ExportCommand) -> Result<(), Error> {
    match command {
        ExportCommand::Snapshot { out, tree_size } => snapshot(global, out, *tree_size).await,
        ExportCommand::Dataset(args) => dataset(global, args).await,
    }
}

/// Writes a snapshot into `out` (on the migrated database) and says what was written.
async fn snapshot(global: &GlobalArgs, out: &std::path::Path, tree_size: Option<u64>) -> Result<(), Error> {
    let started = std::time::Instant::now();
    let written = with_database(global, Schema::Migrate, |pool| async move {
        Ok::<_, Error>(datasets::snapshot::write(&pool, out, tree_size).await?)
    })
    .await?;
    match written {
        Written::Created { tree_size, files } => println!(
            "wrote {files} files to {} (checkpoint {tree_size}) in {:.1} s",
            out.display(),
            started.elapsed().as_secs_f64()
        ),
        Written::AlreadyPresent { tree_size } => {
            println!("{} already holds this snapshot (checkpoint {tree_size}); nothing written", out.display())
        }
    }
    Ok(())
}

/// Streams one dataset at the latest checkpoint to `--out` or stdout.
async fn dataset(global: &GlobalArgs, args: &ExportDatasetArgs) -> Result<(), Error> {
    let dataset = datasets::find(&args.name).ok_or_else(|| Error::UnknownDataset {
        name: args.name.clone(),
        known: datasets::CATALOG.iter().map(|d| d.name).collect::<Vec<_>>().join(", "),
    })?;
    let format = Format::from_extension(&args.format).ok_or_else(|| Error::Format(args.format.clone()))?;
    let query = datasets::filter::ExportQuery {
        provider: args.provider.clone(),
        resource: args.resource.clone(),
        region: args.region.clone(),
        kind: args.kind.clone(),
        from: args.from.clone(),
        to: args.to.clone(),
        include_superseded: args.include_superseded.then(|| "true".to_owned()),
        bom: None,
    };
    let filter = datasets::filter::ExportFilter::parse(&query, &dataset)
        .map_err(|e| Error::Filter { flag: e.parameter.replace('_', "-"), reason: e.reason })?;
    let (dataset, filter) = (&dataset, &filter);
    let (rows, size) = with_database(global, Schema::AsIs, |pool| async move {
        let derived = matches!(dataset.source, Source::Derived(_));
        let pinned = datasets::snapshot::Pinned::load(&pool, None, None, derived).await?;
        let out: Box<dyn std::io::Write + Send> = match &args.out {
            Some(path) => Box::new(std::io::BufWriter::new(
                std::fs::File::create(path).map_err(|source| Error::Create { path: path.clone(), source })?,
            )),
            None => Box::new(std::io::BufWriter::new(std::io::stdout())),
        };
        let mut sink = datasets::snapshot::WriteSink::new(dataset, format, out)?;
        let rows = pinned.render_filtered(dataset, filter, &mut sink).await?;
        sink.finish()?;
        Ok::<_, Error>((rows, pinned.checkpoint.size))
    })
    .await?;
    tracing::info!(rows, tree_size = size, dataset = dataset.name, "exported");
    Ok(())
}
