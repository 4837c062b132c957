//! Gatelog's collectors: clients of the push API for providers who will not script
//! it themselves. Published feeds on a schedule ([`feeds`]), Slurm accounting data
//! ([`sacct`]), PBS accounting logs ([`pbs`]), historical CSV ([`import`]); every
//! record takes the same validation, dedup and ledger path as a provider's own push
//! ([`client`]).

pub mod client;
pub mod feeds;
pub mod generate;
pub mod import;
pub mod pbs;
pub mod prometheus;
pub mod report;
pub mod sacct;
