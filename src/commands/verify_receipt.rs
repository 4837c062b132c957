//! `gatelog verify-receipt`: check a receipt offline (signature, leaf hash, inclusion
//! proof, and for a tlog-proof the witnesses' cosignatures).

use std::path::PathBuf;

use clap::Args;

use super::InvalidFlag;

/// Flags of `gatelog verify-receipt`.
#[derive(Debug, Clone, Args)]
pub struct VerifyReceiptArgs {
    /// The receipt: JSON (as served at /api/v1/receipts/{index}) or a C2SP tlog-proof
    /// file (as served at /api/v1/receipts/{index}.tlog-proof), told apart by its first line
    pub file: PathBuf,
    /// The log's verifier key (C2SP vkey), obtained out of band; repeatable
    #[arg(long = "vkey", value_name = "VKEY", required = true)]
    pub vkeys: Vec<String>,
    /// tlog-proof only: the entry's bytes; by default the proof's extra data, which Gatelog
    /// fills with them (trusted only because their leaf hash is then proven)
    #[arg(long, value_name = "FILE")]
    pub entry: Option<PathBuf>,
    /// tlog-proof only: a trusted witness's verifier key (C2SP vkey of type 0x04); repeatable
    #[arg(long = "witness", value_name = "VKEY")]
    pub witnesses: Vec<String>,
    /// tlog-proof only: how many of the --witness keys must have cosigned [default: all]
    #[arg(long, value_name = "N")]
    pub min_witnesses: Option<usize>,
}

/// Why a receipt was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A `--vkey` is malformed.
    #[error(transparent)]
    Vkey(#[from] InvalidFlag),
    /// The receipt did not verify or could not be read.
    #[error("receipt {path}: {reason}")]
    Receipt { path: String, reason: String },
}

/// Checks the receipt and prints what it proves.
pub fn run(args: &VerifyReceiptArgs) -> Result<(), Error> {
    println!("{}", verify_receipt(args)?);
    Ok(())
}

/// `gatelog verify-receipt`: checks a JSON receipt or a C2SP tlog-proof offline and
/// returns the line to print. A tlog-proof is checked against the policy of the flags:
/// the log's signature by a `--vkey`, the inclusion proof of the entry's leaf hash up to
/// the signed root, and cosignatures by at least `--min-witnesses` of the `--witness` keys
/// (see [`crate::ledger::tlog_proof`]); then the entry bytes must be a Gatelog entry
/// whose own index is the proof's.
pub fn verify_receipt(args: &VerifyReceiptArgs) -> Result<String, Error> {
    use crate::ledger::tlog_proof::{HEADER, Policy, TlogProof};
    use crate::witness::cosignature::CosignerVerifier;

    let fail = |reason: String| Error::Receipt { path: args.file.display().to_string(), reason };
    let keys = super::vkeys(&args.vkeys)?;
    let text = std::fs::read_to_string(&args.file).map_err(|e| fail(e.to_string()))?;
    if !text.starts_with(&format!("{HEADER}\n")) {
        if args.entry.is_some() || !args.witnesses.is_empty() || args.min_witnesses.is_some() {
            return Err(fail("--entry, --witness and --min-witnesses apply to tlog-proof receipts only".into()));
        }
        let receipt: crate::submission::Receipt =
            serde_json::from_str(&text).map_err(|e| fail(format!("neither a tlog-proof nor a JSON receipt: {e}")))?;
        let verified = crate::submission::verify_receipt(&receipt, &keys).map_err(fail)?;
        return Ok(format!(
            "receipt OK: entry {} ({} {} received {}) is in {} at tree size {}",
            verified.entry_index,
            verified.provider,
            verified.kind,
            verified.received_at,
            verified.origin,
            verified.tree_size
        ));
    }

    let proof = TlogProof::parse(&text).map_err(|e| fail(format!("malformed tlog-proof: {e}")))?;
    let witnesses: Vec<CosignerVerifier> = args
        .witnesses
        .iter()
        .map(|w| CosignerVerifier::parse(w).map_err(|e| fail(format!("invalid --witness: {e}"))))
        .collect::<Result<_, _>>()?;
    let quorum = args.min_witnesses.unwrap_or(witnesses.len());
    let policy = Policy::new(keys, witnesses, quorum).map_err(|e| fail(e.to_string()))?;
    let entry = match &args.entry {
        Some(path) => std::fs::read(path).map_err(|e| fail(format!("--entry {}: {e}", path.display())))?,
        None => proof
            .extra()
            .ok_or_else(|| fail("the proof carries no entry bytes: pass them with --entry FILE".into()))?
            .to_vec(),
    };
    let verified = proof.verify(&entry, &policy).map_err(|e| fail(e.to_string()))?;
    let decoded = crate::ledger::entry::Entry::from_canonical_bytes(&entry)
        .map_err(|e| fail(format!("the entry bytes are not a Gatelog entry: {e}")))?;
    if decoded.index != verified.index {
        return Err(fail(format!("the entry bytes say index {}, the proof {}", decoded.index, verified.index)));
    }
    let witnessed = if verified.cosigned_by.is_empty() {
        String::from("no witness cosignature required")
    } else {
        let each: Vec<String> = verified
            .cosigned_by
            .iter()
            .map(|c| format!("{} at {}", c.witness, c.time.format("%Y-%m-%d %H:%M:%S UTC")))
            .collect();
        format!("cosigned by {} trusted witnesses, {quorum} required ({})", each.len(), each.join(", "))
    };
    Ok(format!(
        "receipt OK: entry {} ({} {} received {}) is in {} at tree size {}; {}",
        verified.index,
        decoded.provider,
        decoded.kind,
        decoded.received_at,
        verified.origin,
        verified.tree_size,
        witnessed
    ))
}
