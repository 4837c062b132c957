//! `gatelog sign-records`: for provider engineers, sign NDJSON records with a
//! record-signing key before they are posted (no database, no network).

use std::path::PathBuf;

use clap::Args;

use crate::ledger::keys::{self, KeyFileError};

/// Flags of `gatelog sign-records`.
#[derive(Debug, Clone, Args)]
pub struct SignRecordsArgs {
    /// The provider's private key file (as `gatelog provider keygen` writes it; mode 0600)
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The provider the records are filed for [default: the key's name, which must be it]
    #[arg(long, value_name = "SLUG")]
    pub provider: Option<String>,
}

/// Why `gatelog sign-records` stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The key file could not be read.
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    /// The key is not a record-signing key.
    #[error("sign-records: {0}")]
    Key(String),
    /// `--provider` is not a slug.
    #[error("sign-records: --provider {0}")]
    Provider(String),
    /// A line is not a record that can be signed.
    #[error("sign-records: line {line}: {reason}")]
    Line {
        /// The line number, from 1.
        line: usize,
        reason: String,
    },
    /// Reading stdin failed.
    #[error("sign-records: reading stdin: {0}")]
    Read(std::io::Error),
    /// Writing stdout failed.
    #[error("sign-records: writing stdout: {0}")]
    Write(std::io::Error),
}

/// Signs stdin to stdout.
pub fn run(args: &SignRecordsArgs) -> Result<(), Error> {
    sign_records(args, std::io::stdin().lock(), std::io::stdout().lock())
}

/// `gatelog sign-records`: NDJSON records in, the same records validated and signed out,
/// one per line, each with `provider` and `signature` set. Stops at the first bad line.
pub fn sign_records(
    args: &SignRecordsArgs,
    input: impl std::io::BufRead,
    mut output: impl std::io::Write,
) -> Result<(), Error> {
    use crate::records::signature::RecordSigner;
    use crate::records::{Record, Slug};
    use serde_json::Value;
    let signer = RecordSigner::new(&keys::load(&args.key)?).map_err(|e| Error::Key(e.to_string()))?;
    let provider = match &args.provider {
        Some(text) => Slug::parse(text).map_err(|e| Error::Provider(format!("{text:?} {e}")))?,
        None => signer.provider().clone(),
    };
    let fail = |line: usize, reason: String| Error::Line { line, reason };
    for (number, line) in input.lines().enumerate().map(|(i, line)| (i + 1, line)) {
        let line = line.map_err(Error::Read)?;
        if line.trim().is_empty() {
            continue;
        }
        let Value::Object(mut map) = serde_json::from_str(&line).map_err(|e| fail(number, format!("not JSON: {e}")))?
        else {
            return Err(fail(number, "a record is a JSON object".into()));
        };
        match map.remove("provider") {
            Some(Value::String(named)) if named != provider.as_str() => {
                return Err(fail(number, format!("the record names provider {named:?}, not {provider}")));
            }
            _ => {}
        }
        map.remove("signature");
        let record = Record::parse(Value::Object(map)).map_err(|errors| {
            let reasons: Vec<String> = errors.iter().map(|e| format!("{}: {}", e.field, e.reason)).collect();
            fail(number, reasons.join("; "))
        })?;
        let signature = signer.sign(&provider, &record).map_err(|e| fail(number, e.to_string()))?;
        let mut signed = record.to_submission();
        if let Value::Object(fields) = &mut signed {
            fields.insert("provider".into(), Value::String(provider.to_string()));
            fields.insert("signature".into(), Value::String(signature.to_base64()));
        }
        writeln!(output, "{signed}").map_err(Error::Write)?;
    }
    output.flush().map_err(Error::Write)
}
