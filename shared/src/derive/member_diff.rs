//! Which bucket members a rebuilt projection writes and deletes, and which buckets that makes
//! stale. A projection remembers a [`MemberRef`] per packed member it contributed, so the next
//! rebuild diffs against those instead of reading the buckets.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::members::{Bucket, PackedMember};
use crate::model::content_hash;

/// A packed member a projection contributed (stored on the projection, short field names:
/// bucket, member id, content hash).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MemberRef {
    pub b: String,
    pub id: String,
    pub h: String,
}

/// The member writes of one rebuild.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MemberDiff {
    /// New or changed members.
    pub puts: Vec<PackedMember>,
    /// Members that left: (bucket key, member id).
    pub deletes: Vec<(String, String)>,
    /// The new projection's member refs, in (bucket, id) order.
    pub refs: Vec<MemberRef>,
    /// Every bucket whose members this rebuild changes (deletes included), as stored on the
    /// projection so a retry can redo them.
    pub buckets: BTreeSet<String>,
    /// The buckets to recompute.
    pub dirty: BTreeSet<Bucket>,
}

impl MemberDiff {
    /// The members of `new` against the refs `old` the replaced projection stored.
    pub fn between(old: &[MemberRef], new: Vec<PackedMember>) -> MemberDiff {
        let old: BTreeMap<(&str, &str), &str> = old
            .iter()
            .map(|r| ((r.b.as_str(), r.id.as_str()), r.h.as_str()))
            .collect();
        let new: BTreeMap<(String, String), (String, PackedMember)> = new
            .into_iter()
            .map(|m| {
                (
                    (m.bucket.to_string(), m.id.clone()),
                    (content_hash(&m.data), m),
                )
            })
            .collect();
        let mut diff = MemberDiff::default();
        for (bucket, id) in old
            .keys()
            .filter(|(b, id)| !new.contains_key(&((*b).to_string(), (*id).to_string())))
        {
            diff.buckets.insert((*bucket).to_string());
            diff.deletes
                .push(((*bucket).to_string(), (*id).to_string()));
            diff.dirty.extend(Bucket::parse(bucket));
        }
        for ((bucket, id), (hash, member)) in new {
            if old.get(&(bucket.as_str(), id.as_str())) != Some(&hash.as_str()) {
                diff.buckets.insert(bucket.clone());
                diff.dirty.insert(member.bucket.clone());
                diff.puts.push(member);
            }
            diff.refs.push(MemberRef {
                b: bucket,
                id,
                h: hash,
            });
        }
        diff
    }

    /// Whether the rebuild writes or deletes no member.
    pub fn writes_nothing(&self) -> bool {
        self.puts.is_empty() && self.deletes.is_empty()
    }

    /// The buckets a replaced projection's run changed that this diff does not name: when that
    /// run died before recomputing them (a retried stream batch usually brings more facts, so
    /// the retry's projection differs and its own diff would miss them), they are taken over.
    pub fn missed<'a>(&self, replaced_run_buckets: &'a [String]) -> Vec<&'a String> {
        replaced_run_buckets
            .iter()
            .filter(|b| !self.buckets.contains(*b))
            .collect()
    }

    /// Takes over buckets a dead run left (see [`MemberDiff::missed`]); answers the buckets
    /// that this makes dirty.
    pub fn take_over<'a>(&mut self, buckets: impl IntoIterator<Item = &'a String>) -> Vec<Bucket> {
        let mut dirtied = Vec::new();
        for bucket in buckets {
            dirtied.extend(Bucket::parse(bucket));
            self.buckets.insert(bucket.clone());
        }
        self.dirty.extend(dirtied.iter().cloned());
        dirtied
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::derive::members::MemberData;

    fn bucket(scope: &str) -> Bucket {
        Bucket::parse(&format!("{scope}|2026-W49")).expect("bucket")
    }

    fn pack(scope: &str, id: &str, weight: u64) -> PackedMember {
        PackedMember {
            bucket: bucket(scope),
            id: id.into(),
            data: vec![MemberData::LeadTime {
                seconds: weight as f64,
            }],
        }
    }

    fn refs_of(members: &[PackedMember]) -> Vec<MemberRef> {
        MemberDiff::between(&[], members.to_vec()).refs
    }

    #[test]
    fn a_first_projection_writes_every_member() {
        // given no stored projection, when it gets two members
        let diff = MemberDiff::between(
            &[],
            vec![pack("org", "PR#a#1", 1), pack("repo:a", "PR#a#1", 1)],
        );
        // then both are written and both buckets recompute
        assert_eq!(diff.puts.len(), 2);
        assert!(diff.deletes.is_empty());
        assert_eq!(
            diff.dirty,
            [bucket("org"), bucket("repo:a")].into_iter().collect()
        );
        assert_eq!(diff.refs.len(), 2);
    }

    #[test]
    fn an_unchanged_member_writes_nothing() {
        let members = vec![pack("org", "PR#a#1", 1)];
        let diff = MemberDiff::between(&refs_of(&members), members);
        assert!(diff.writes_nothing());
        assert!(diff.buckets.is_empty() && diff.dirty.is_empty());
        assert_eq!(diff.refs.len(), 1, "the unchanged ref is kept");
    }

    #[test]
    fn a_changed_member_is_rewritten_and_a_departed_one_deleted() {
        // given members in org and repo:a
        let old = refs_of(&[pack("org", "PR#a#1", 1), pack("repo:a", "PR#a#1", 1)]);
        // when org's changes and repo:a's leaves
        let diff = MemberDiff::between(&old, vec![pack("org", "PR#a#1", 2)]);
        // then org's is put, repo:a's deleted, and both recompute
        assert_eq!(diff.puts, vec![pack("org", "PR#a#1", 2)]);
        assert_eq!(
            diff.deletes,
            vec![(bucket("repo:a").to_string(), "PR#a#1".to_string())]
        );
        assert_eq!(
            diff.dirty,
            [bucket("org"), bucket("repo:a")].into_iter().collect()
        );
    }

    #[test]
    fn a_dead_runs_buckets_this_diff_misses_are_taken_over() {
        // given a projection whose run changed org and author:x and died
        let members = vec![pack("org", "PR#a#1", 1)];
        let replaced_run = vec![bucket("org").to_string(), bucket("author:x").to_string()];
        // when the retry's diff changes only org
        let mut diff = MemberDiff::between(&[], members);
        let missed: Vec<String> = diff.missed(&replaced_run).into_iter().cloned().collect();
        // then author:x is missed, and taking it over recomputes it
        assert_eq!(missed, vec![bucket("author:x").to_string()]);
        assert_eq!(diff.take_over(&missed), vec![bucket("author:x")]);
        assert!(diff.dirty.contains(&bucket("author:x")));
        assert!(diff.buckets.contains(&bucket("author:x").to_string()));
    }
}
