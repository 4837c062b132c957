//! The Merkle tree of RFC 6962 §2.1 / RFC 9162 §2.1, over stored subtree hashes.
//!
//! Hashing: a leaf is `SHA-256(0x00 ‖ entry)`, an inner node
//! `SHA-256(0x01 ‖ left ‖ right)`, and a tree that is not full splits at the
//! largest power of two smaller than its size.
//!
//! Storage model: every *complete* subtree (2^level leaves, aligned) has its hash
//! stored once, addressed by `(level, index)`, when its last leaf is appended. Any
//! tree head, inclusion proof or consistency proof is then a function of
//! O(log n) stored hashes, so nothing ever recomputes the tree. The functions here
//! are pure: a *plan* lists, for each hash of a result, the stored subtrees whose
//! fold gives it; the caller fetches all of them at once (one database round trip)
//! and [`assemble`]s the result.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// Domain-separation prefix for leaves (RFC 6962 §2.1).
const LEAF_PREFIX: u8 = 0x00;
/// Domain-separation prefix for inner nodes (RFC 6962 §2.1).
const NODE_PREFIX: u8 = 0x01;

/// Hash of a leaf holding `entry`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([LEAF_PREFIX]);
    hasher.update(entry);
    hasher.finalize().into()
}

/// Hash of an inner node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([NODE_PREFIX]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// Root of the empty tree: SHA-256 of the empty string (RFC 6962 §2.1).
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// A complete subtree: leaves `[index·2^level, (index+1)·2^level)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// Height above the leaves (0 = a leaf).
    pub level: u8,
    /// Position among the subtrees of that level, from the left.
    pub index: u64,
}

impl NodeId {
    /// A node by level and index.
    pub const fn new(level: u8, index: u64) -> Self {
        Self { level, index }
    }
}

/// The right edge of a tree: its maximal complete subtrees, left to right
/// (their levels strictly decrease). Appending leaves only touches this edge, so
/// it is all a writer needs to extend the tree and compute the new root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    nodes: Vec<(NodeId, Hash)>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn empty() -> Self {
        Self { size: 0, nodes: Vec::new() }
    }

    /// Rebuilds the frontier of a tree of `size` leaves from the hashes of [`tree_hash_plan`]`(size)`.
    pub fn from_hashes(size: u64, hashes: &[Hash]) -> Option<Self> {
        let ids = tree_hash_plan(size);
        (ids.len() == hashes.len()).then(|| Self { size, nodes: ids.into_iter().zip(hashes.iter().copied()).collect() })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Root hash of the tree.
    pub fn root(&self) -> Hash {
        let hashes: Vec<Hash> = self.nodes.iter().map(|(_, hash)| *hash).collect();
        fold_right(&hashes)
    }

    /// Appends a leaf; returns every subtree it completes (the leaf first, then its
    /// new ancestors), which is exactly what must be stored.
    pub fn push(&mut self, leaf: Hash) -> Vec<(NodeId, Hash)> {
        let mut completed = vec![(NodeId::new(0, self.size), leaf)];
        let mut node = (NodeId::new(0, self.size), leaf);
        while let Some(&(left_id, left_hash)) = self.nodes.last() {
            if left_id.level != node.0.level {
                break;
            }
            self.nodes.pop();
            node = (NodeId::new(left_id.level + 1, left_id.index >> 1), node_hash(&left_hash, &node.1));
            completed.push(node);
        }
        self.nodes.push(node);
        self.size += 1;
        completed
    }
}

/// The maximal complete subtrees covering leaves `[start, end)`, left to right,
/// where `start` is aligned to the subtrees chosen (as in RFC 6962 splits).
fn covering_subtrees(start: u64, end: u64) -> Vec<NodeId> {
    let mut nodes = Vec::new();
    let mut position = start;
    while position < end {
        // Largest aligned power of two starting at `position` that fits.
        let mut level = if position == 0 { 63 } else { position.trailing_zeros() };
        while level > 0 && (1u64 << level) > end - position {
            level -= 1;
        }
        nodes.push(NodeId::new(level as u8, position >> level));
        position += 1u64 << level;
    }
    nodes
}

/// Stored hashes from which the root of a tree of `size` leaves is computed
/// (fold them with [`fold_right`]).
pub fn tree_hash_plan(size: u64) -> Vec<NodeId> {
    covering_subtrees(0, size)
}

/// Root of the tree of `size` leaves, given the hashes of [`tree_hash_plan`]:
/// folding the covering subtrees right to left reproduces the RFC's splits.
pub fn fold_right(hashes: &[Hash]) -> Hash {
    match hashes.split_last() {
        None => empty_root(),
        Some((last, rest)) => rest.iter().rev().fold(*last, |acc, left| node_hash(left, &acc)),
    }
}

/// Largest power of two strictly smaller than `n` (n ≥ 2).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// A list of proof hashes, each given as the stored subtrees whose fold is that hash.
pub type ProofPlan = Vec<Vec<NodeId>>;

/// Plan of the inclusion proof for leaf `index` in the tree of `size` leaves
/// (RFC 9162 §2.1.3.1), ordered from the leaf upwards.
pub fn inclusion_proof_plan(index: u64, size: u64) -> Result<ProofPlan, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    // Walk down from the root, remembering the sibling subtree at each split.
    let (mut start, mut end) = (0u64, size);
    let mut siblings = Vec::new();
    while end - start > 1 {
        let k = split_point(end - start);
        if index < start + k {
            siblings.push((start + k, end));
            end = start + k;
        } else {
            siblings.push((start, start + k));
            start += k;
        }
    }
    Ok(siblings.into_iter().rev().map(|(s, e)| covering_subtrees(s, e)).collect())
}

/// Plan of the consistency proof from the tree of `old` leaves to the tree of
/// `new` leaves (RFC 9162 §2.1.4.1). Empty when `old == new` or `old == 0`.
pub fn consistency_proof_plan(old: u64, new: u64) -> Result<ProofPlan, ProofError> {
    if old > new {
        return Err(ProofError::OldAfterNew { old, new });
    }
    if old == 0 || old == new {
        return Ok(Vec::new());
    }
    let mut ranges = Vec::new();
    subproof_ranges(old, 0, new, true, &mut ranges);
    Ok(ranges.into_iter().map(|(s, e)| covering_subtrees(s, e)).collect())
}

/// Every stored subtree a plan needs, deduplicated, for one fetch.
pub fn plan_nodes(plan: &[Vec<NodeId>]) -> Vec<NodeId> {
    let mut nodes: Vec<NodeId> = plan.iter().flatten().copied().collect();
    nodes.sort_unstable();
    nodes.dedup();
    nodes
}

/// Computes a plan's hashes from fetched stored hashes; `None` names the first missing node.
pub fn assemble(plan: &[Vec<NodeId>], stored: &HashMap<NodeId, Hash>) -> Result<Vec<Hash>, NodeId> {
    plan.iter()
        .map(|parts| {
            let hashes = parts.iter().map(|id| stored.get(id).copied().ok_or(*id)).collect::<Result<Vec<_>, _>>()?;
            Ok(fold_right(&hashes))
        })
        .collect()
}

/// SUBPROOF(m, D[start:end], b) of RFC 6962 §2.1.2, as the leaf ranges whose hashes form the proof.
fn subproof_ranges(m: u64, start: u64, end: u64, complete: bool, out: &mut Vec<(u64, u64)>) {
    let n = end - start;
    if m == n {
        if !complete {
            out.push((start, end));
        }
        return;
    }
    let k = split_point(n);
    if m <= k {
        subproof_ranges(m, start, start + k, complete, out);
        out.push((start + k, end));
    } else {
        subproof_ranges(m - k, start + k, end, false, out);
        out.push((start, start + k));
    }
}

/// Why a proof cannot be produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf is not in the tree.
    #[error("entry {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// Requested leaf.
        index: u64,
        /// Tree size.
        size: u64,
    },
    /// A consistency proof was asked backwards.
    #[error("from ({old}) must not be greater than to ({new})")]
    OldAfterNew {
        /// Older size.
        old: u64,
        /// Newer size.
        new: u64,
    },
}

/// Why a proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Index not below size.
    #[error("entry {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// Leaf index.
        index: u64,
        /// Tree size.
        size: u64,
    },
    /// Wrong number of hashes for a proof between these sizes.
    #[error("a proof of {got} hashes has the wrong length for these sizes")]
    WrongLength {
        /// Hashes given.
        got: usize,
    },
    /// The recomputed root differs.
    #[error("recomputed root does not match")]
    RootMismatch,
    /// Sizes out of order.
    #[error("old size {old} is greater than new size {new}")]
    OldAfterNew {
        /// Older size.
        old: u64,
        /// Newer size.
        new: u64,
    },
}

/// Verifies an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> Result<(), VerifyError> {
    if index >= size {
        return Err(VerifyError::IndexOutOfRange { index, size });
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return Err(VerifyError::WrongLength { got: proof.len() });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(VerifyError::WrongLength { got: proof.len() });
    }
    if &r == root { Ok(()) } else { Err(VerifyError::RootMismatch) }
}

/// Verifies a consistency proof (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), VerifyError> {
    if old > new {
        return Err(VerifyError::OldAfterNew { old, new });
    }
    if old == new {
        return if proof.is_empty() && old_root == new_root {
            Ok(())
        } else if !proof.is_empty() {
            Err(VerifyError::WrongLength { got: proof.len() })
        } else {
            Err(VerifyError::RootMismatch)
        };
    }
    if old == 0 {
        // Every tree is consistent with the empty one; the proof is empty.
        return if proof.is_empty() { Ok(()) } else { Err(VerifyError::WrongLength { got: proof.len() }) };
    }
    let mut path: Vec<Hash> = proof.to_vec();
    if old.is_power_of_two() {
        path.insert(0, *old_root);
    }
    let Some((first, rest)) = path.split_first() else {
        return Err(VerifyError::WrongLength { got: 0 });
    };
    let (mut fn_, mut sn) = (old - 1, new - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if sn == 0 {
            return Err(VerifyError::WrongLength { got: proof.len() });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(VerifyError::WrongLength { got: proof.len() });
    }
    if &fr == old_root && &sr == new_root { Ok(()) } else { Err(VerifyError::RootMismatch) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn h(hex_text: &str) -> Hash {
        hex::decode(hex_text).expect("hex").try_into().expect("32 bytes")
    }

    /// The leaves of the Certificate Transparency / Go `tlog` reference tree.
    fn reference_leaves() -> Vec<Vec<u8>> {
        ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
            .iter()
            .map(|leaf| hex::decode(leaf).expect("hex"))
            .collect()
    }

    /// Published roots of the reference tree for sizes 0..=8.
    const REFERENCE_ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    /// A whole tree held in memory: every completed subtree, as the database stores them.
    struct MemoryTree {
        frontier: Frontier,
        stored: HashMap<NodeId, Hash>,
    }

    impl MemoryTree {
        fn of(leaves: &[Hash]) -> Self {
            let mut tree = Self { frontier: Frontier::empty(), stored: HashMap::new() };
            for leaf in leaves {
                tree.stored.extend(tree.frontier.push(*leaf));
            }
            tree
        }

        fn root(&self, size: u64) -> Hash {
            let plan = vec![tree_hash_plan(size)];
            assemble(&plan, &self.stored).expect("complete")[0]
        }

        fn inclusion(&self, index: u64, size: u64) -> Vec<Hash> {
            assemble(&inclusion_proof_plan(index, size).expect("in range"), &self.stored).expect("complete")
        }

        fn consistency(&self, old: u64, new: u64) -> Vec<Hash> {
            assemble(&consistency_proof_plan(old, new).expect("ordered"), &self.stored).expect("complete")
        }
    }

    /// RFC 6962 §2.1 written out literally, recursion and all: the independent reference.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    fn leaf_hashes(count: usize) -> Vec<Hash> {
        (0..count).map(|i| leaf_hash(&(i as u64).to_be_bytes())).collect()
    }

    #[test]
    fn reference_roots_match_the_published_vectors() {
        let leaves: Vec<Hash> = reference_leaves().iter().map(|leaf| leaf_hash(leaf)).collect();
        let tree = MemoryTree::of(&leaves);
        for (size, expected) in REFERENCE_ROOTS.iter().enumerate() {
            assert_eq!(tree.root(size as u64), h(expected), "size {size}");
        }
        assert_eq!(tree.frontier.root(), h(REFERENCE_ROOTS[8]));
    }

    #[test]
    fn inclusion_proofs_match_the_published_vectors() {
        let leaves: Vec<Hash> = reference_leaves().iter().map(|leaf| leaf_hash(leaf)).collect();
        let tree = MemoryTree::of(&leaves);
        let vectors: [(u64, u64, &[&str]); 4] = [
            (
                0,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                8,
                &[
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (2, 3, &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
            (
                1,
                5,
                &[
                    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        for (index, size, expected) in vectors {
            let proof = tree.inclusion(index, size);
            assert_eq!(proof, expected.iter().map(|x| h(x)).collect::<Vec<_>>(), "leaf {index} of {size}");
            let root = h(REFERENCE_ROOTS[size as usize]);
            verify_inclusion(index, size, &leaves[index as usize], &proof, &root).expect("verifies");
        }
    }

    #[test]
    fn consistency_proofs_match_the_published_vectors() {
        let leaves: Vec<Hash> = reference_leaves().iter().map(|leaf| leaf_hash(leaf)).collect();
        let tree = MemoryTree::of(&leaves);
        let vectors: [(u64, u64, &[&str]); 4] = [
            (1, 1, &[]),
            (
                1,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                6,
                8,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                5,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        for (old, new, expected) in vectors {
            let proof = tree.consistency(old, new);
            assert_eq!(proof, expected.iter().map(|x| h(x)).collect::<Vec<_>>(), "{old} -> {new}");
            let (old_root, new_root) = (h(REFERENCE_ROOTS[old as usize]), h(REFERENCE_ROOTS[new as usize]));
            verify_consistency(old, new, &old_root, &new_root, &proof).expect("verifies");
        }
    }

    #[test]
    fn bad_requests_are_refused() {
        assert_eq!(inclusion_proof_plan(5, 5), Err(ProofError::IndexOutOfRange { index: 5, size: 5 }));
        assert_eq!(consistency_proof_plan(6, 5), Err(ProofError::OldAfterNew { old: 6, new: 5 }));
        let leaf = leaf_hash(b"x");
        assert_eq!(verify_inclusion(1, 1, &leaf, &[], &leaf), Err(VerifyError::IndexOutOfRange { index: 1, size: 1 }));
    }

    /// Cross-check against an independent implementation (Cloudflare's port of Go's
    /// sumdb/tlog): same roots and same proofs for every size and index up to 70.
    #[test]
    fn agrees_with_the_tlog_tiles_crate() {
        struct Stored(Vec<tlog_tiles::Hash>);
        impl tlog_tiles::HashReader for Stored {
            fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
                Ok(indexes.iter().map(|i| self.0[*i as usize]).collect())
            }
        }
        let leaves = leaf_hashes(70);
        let mut stored = Stored(Vec::new());
        for (n, leaf) in leaves.iter().enumerate() {
            let reader = Stored(stored.0.clone());
            let new =
                tlog_tiles::stored_hashes_for_record_hash(n as u64, tlog_tiles::Hash(*leaf), &reader).expect("stored");
            stored.0.extend(new);
        }
        let ours = MemoryTree::of(&leaves);
        for size in 1..=70u64 {
            let theirs = tlog_tiles::tree_hash(size, &stored).expect("tree hash");
            assert_eq!(ours.root(size), theirs.0, "root of {size}");
            for index in 0..size {
                let proof = tlog_tiles::prove_record(size, index, &stored).expect("record proof");
                let theirs: Vec<Hash> = proof.iter().map(|hash| hash.0).collect();
                assert_eq!(ours.inclusion(index, size), theirs, "inclusion {index} in {size}");
            }
            for old in 1..=size {
                let proof = tlog_tiles::prove_tree(size, old, &stored).expect("tree proof");
                let theirs: Vec<Hash> = proof.iter().map(|hash| hash.0).collect();
                assert_eq!(ours.consistency(old, size), theirs, "consistency {old} -> {size}");
            }
        }
    }

    proptest! {
        #[test]
        fn stored_subtrees_give_the_rfc_root(count in 0usize..300) {
            let leaves = leaf_hashes(count);
            let tree = MemoryTree::of(&leaves);
            prop_assert_eq!(tree.frontier.root(), mth(&leaves));
            prop_assert_eq!(tree.root(count as u64), mth(&leaves));
        }

        #[test]
        fn every_inclusion_proof_verifies_and_tampering_fails(size in 1u64..300, pick in any::<u64>(), flip in 0usize..32) {
            let leaves = leaf_hashes(size as usize);
            let tree = MemoryTree::of(&leaves);
            let index = pick % size;
            let root = mth(&leaves);
            let mut proof = tree.inclusion(index, size);
            prop_assert_eq!(verify_inclusion(index, size, &leaves[index as usize], &proof, &root), Ok(()));
            // A different leaf, index or size fails.
            let other = leaf_hash(b"not in the tree");
            prop_assert!(verify_inclusion(index, size, &other, &proof, &root).is_err());
            if size > 1 {
                prop_assert!(verify_inclusion((index + 1) % size, size, &leaves[index as usize], &proof, &root).is_err());
            }
            // Any flipped bit in any proof hash fails.
            if !proof.is_empty() {
                let at = (pick as usize / 7) % proof.len();
                proof[at][flip] ^= 0x01;
                prop_assert!(verify_inclusion(index, size, &leaves[index as usize], &proof, &root).is_err());
                proof[at][flip] ^= 0x01;
                proof.pop();
                prop_assert!(verify_inclusion(index, size, &leaves[index as usize], &proof, &root).is_err());
            }
        }

        #[test]
        fn every_consistency_proof_verifies_and_tampering_fails(new in 1u64..300, pick in any::<u64>(), flip in 0usize..32) {
            let leaves = leaf_hashes(new as usize);
            let tree = MemoryTree::of(&leaves);
            let old = 1 + pick % new;
            let (old_root, new_root) = (mth(&leaves[..old as usize]), mth(&leaves));
            let mut proof = tree.consistency(old, new);
            prop_assert_eq!(verify_consistency(old, new, &old_root, &new_root, &proof), Ok(()));
            // A forked history (one leaf changed before `old`) fails.
            let mut forked = leaves.clone();
            forked[(pick as usize / 3) % old as usize] = leaf_hash(b"rewritten");
            prop_assert!(verify_consistency(old, new, &mth(&forked[..old as usize]), &new_root, &proof).is_err());
            if !proof.is_empty() {
                let at = (pick as usize / 11) % proof.len();
                proof[at][flip] ^= 0x80;
                prop_assert!(verify_consistency(old, new, &old_root, &new_root, &proof).is_err());
            }
        }
    }
}
