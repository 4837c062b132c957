//! Providers: the organisations that owe disclosures.

use std::fmt;
use std::str::FromStr;

use crate::records::Slug;

/// What sort of compute provider this is; shown on scorecards and used to compare like with like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum ProviderKind {
    /// Commercial GPU cloud (not further classified).
    GpuCloud,
    /// Hyperscale cloud.
    Hyperscaler,
    /// GPU-specialised cloud ("neocloud").
    Neocloud,
    /// Public or national AI factory.
    AiFactory,
    /// HPC centre.
    HpcCentre,
    /// Campus or departmental node.
    CampusNode,
    /// Anything else.
    Other,
}

impl ProviderKind {
    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GpuCloud => "gpu_cloud",
            Self::Hyperscaler => "hyperscaler",
            Self::Neocloud => "neocloud",
            Self::AiFactory => "ai_factory",
            Self::HpcCentre => "hpc_centre",
            Self::CampusNode => "campus_node",
            Self::Other => "other",
        }
    }

    /// A label for people.
    pub fn label(self) -> &'static str {
        match self {
            Self::GpuCloud => "GPU cloud",
            Self::Hyperscaler => "Hyperscaler",
            Self::Neocloud => "Neocloud",
            Self::AiFactory => "AI factory",
            Self::HpcCentre => "HPC centre",
            Self::CampusNode => "Campus node",
            Self::Other => "Other",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProviderKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Self::GpuCloud,
            Self::Hyperscaler,
            Self::Neocloud,
            Self::AiFactory,
            Self::HpcCentre,
            Self::CampusNode,
            Self::Other,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == s)
        .ok_or_else(|| format!("unknown provider kind {s:?}"))
    }
}

/// A provider to register.
#[derive(Debug, Clone, PartialEq)]
pub struct NewProvider {
    /// Stable public identifier.
    pub slug: Slug,
    /// Name shown on the site.
    pub display_name: String,
    /// What sort of provider.
    pub kind: ProviderKind,
    /// ISO 3166-1 alpha-2 country code, upper case.
    pub country: Option<String>,
    /// Public website.
    pub website: Option<String>,
}

/// A registered provider.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Provider {
    /// Database id (internal; the slug is the public identifier).
    pub id: i64,
    /// Stable public identifier.
    pub slug: Slug,
    /// Name shown on the site.
    pub display_name: String,
    /// What sort of provider.
    pub kind: ProviderKind,
    /// ISO 3166-1 alpha-2 country code.
    pub country: Option<String>,
    /// Public website.
    pub website: Option<String>,
    /// When it was registered.
    pub created_at: chrono::DateTime<chrono::Utc>,
}
