//! Lower-case slugs such as `nvidia-h100-80gb` or `eu-de`, used for providers,
//! resources and regions. They appear in URLs and ledger entries, so the rule is strict.

use std::fmt;

/// Longest slug accepted.
pub const MAX_SLUG_LEN: usize = 64;

/// A validated slug: `[a-z0-9]+(-[a-z0-9]+)*`, at most [`MAX_SLUG_LEN`] bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Slug(String);

/// Why a string is not a slug.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlugError {
    /// Nothing given.
    #[error("must not be empty")]
    Empty,
    /// Longer than [`MAX_SLUG_LEN`].
    #[error("must be at most {MAX_SLUG_LEN} characters, got {0}")]
    TooLong(usize),
    /// A character outside `a-z`, `0-9`, `-`.
    #[error("may contain only lower-case letters, digits and single hyphens between them (found {0:?})")]
    BadCharacter(char),
    /// Leading, trailing or doubled hyphen.
    #[error("must not start or end with a hyphen or contain two in a row")]
    BadHyphen,
}

impl Slug {
    /// Parses a slug, saying exactly what is wrong with a bad one.
    pub fn parse(input: &str) -> Result<Self, SlugError> {
        if input.is_empty() {
            return Err(SlugError::Empty);
        }
        if input.len() > MAX_SLUG_LEN {
            return Err(SlugError::TooLong(input.len()));
        }
        if let Some(bad) = input.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')) {
            return Err(SlugError::BadCharacter(bad));
        }
        if input.starts_with('-') || input.ends_with('-') || input.contains("--") {
            return Err(SlugError::BadHyphen);
        }
        Ok(Self(input.to_owned()))
    }

    /// The slug as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Slug {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Slug::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_typical_identifiers() {
        for ok in ["eu-de", "nvidia-h100-80gb", "a", "x1"] {
            assert_eq!(Slug::parse(ok).expect(ok).as_str(), ok);
        }
    }

    #[test]
    fn names_the_problem() {
        assert_eq!(Slug::parse(""), Err(SlugError::Empty));
        assert_eq!(Slug::parse("EU-de"), Err(SlugError::BadCharacter('E')));
        assert_eq!(Slug::parse("eu_de"), Err(SlugError::BadCharacter('_')));
        assert_eq!(Slug::parse("-eu"), Err(SlugError::BadHyphen));
        assert_eq!(Slug::parse("eu--de"), Err(SlugError::BadHyphen));
        assert_eq!(Slug::parse(&"a".repeat(65)), Err(SlugError::TooLong(65)));
    }

    proptest! {
        #[test]
        fn every_accepted_slug_matches_the_database_rule(input in "\\PC{0,70}") {
            if let Ok(slug) = Slug::parse(&input) {
                let s = slug.as_str();
                prop_assert!(s.len() <= MAX_SLUG_LEN);
                prop_assert!(s.split('-').all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())));
            }
        }

        #[test]
        fn generated_slugs_round_trip(input in "[a-z0-9]{1,10}(-[a-z0-9]{1,10}){0,4}") {
            prop_assert_eq!(Slug::parse(&input).map(|s| s.to_string()), Ok(input));
        }
    }
}
