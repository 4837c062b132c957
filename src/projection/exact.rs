//! Floats stored bit for bit. Summaries are written to the database and read back;
//! a decimal text form read back by a parser that is not correctly rounded could move
//! a median by one unit in the last place, and `verify figures`, which recomputes
//! without the database, would then see a different cell. The bit pattern cannot drift.

use serde::{Deserialize, Deserializer, Serializer};

/// Writes `value` as its IEEE 754 bit pattern.
pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(value.to_bits())
}

/// Reads a value written by [`serialize`].
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    u64::deserialize(deserializer).map(f64::from_bits)
}

/// The same for an optional float.
pub mod option {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `value` as its bit pattern, or null.
    pub fn serialize<S: Serializer>(value: &Option<f64>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => serializer.serialize_some(&v.to_bits()),
            None => serializer.serialize_none(),
        }
    }

    /// Reads a value written by [`serialize`].
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
        Option::<u64>::deserialize(deserializer).map(|bits| bits.map(f64::from_bits))
    }
}

/// The same for a list of named floats.
pub mod pairs {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Writes each float as its bit pattern.
    pub fn serialize<S: Serializer>(value: &[(String, f64)], serializer: S) -> Result<S::Ok, S::Error> {
        let bits: Vec<(&str, u64)> = value.iter().map(|(name, v)| (name.as_str(), v.to_bits())).collect();
        bits.serialize(serializer)
    }

    /// Reads a list written by [`serialize`].
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<(String, f64)>, D::Error> {
        let bits = Vec::<(String, u64)>::deserialize(deserializer)?;
        Ok(bits.into_iter().map(|(name, bits)| (name, f64::from_bits(bits))).collect())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Holder {
        #[serde(with = "super")]
        value: f64,
        #[serde(with = "super::option")]
        maybe: Option<f64>,
    }

    proptest! {
        #[test]
        fn every_float_comes_back_bit_for_bit(bits in any::<u64>(), some in any::<bool>()) {
            let value = f64::from_bits(bits);
            let holder = Holder { value, maybe: some.then_some(value) };
            let text = serde_json::to_vec(&holder).expect("json");
            let back: Holder = serde_json::from_slice(&text).expect("read back");
            prop_assert_eq!(back.value.to_bits(), bits);
            prop_assert_eq!(back.maybe.map(f64::to_bits), some.then_some(bits));
        }
    }
}
