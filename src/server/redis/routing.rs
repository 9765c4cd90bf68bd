//! A Redis Cluster seen from the broker thread: the slot map (`CLUSTER SLOTS`, asked again
//! whenever a command is redirected, a shard is lost, or a primary is unreachable), one shard
//! per primary, and each followed topic on the shard that serves its slot.

use super::bridge::{ASK_EVERY, Bridge};
use super::lock;
use crate::hub::redis::cluster::SlotMap;
use crate::hub::redis::topic_slot;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

impl Bridge {
    /// The shard that serves `topic`: shard 0 of one Redis; on a cluster, the shard of the
    /// primary the map names for the topic's slot (added if new), if it names one.
    pub(super) fn shard_for(&mut self, topic: &str) -> Option<usize> {
        let Some(cluster) = &self.cluster else {
            return Some(0);
        };
        let slot = topic_slot(&self.link.url.config.prefix, topic);
        let addr = cluster.map.as_ref()?.owner(slot)?.to_string();
        let known = self
            .shards
            .iter()
            .position(|s| s.as_ref().is_some_and(|s| s.addr == addr));
        Some(known.unwrap_or_else(|| self.add_shard(addr)))
    }

    /// While the map is stale, asks a ready shard for it (every `ASK_EVERY` at most); with no
    /// shard ready, connects to the seeds in turn.
    pub(super) fn ask_for_map(&mut self) {
        let Some(cluster) = &mut self.cluster else {
            return;
        };
        let now = Instant::now();
        if !cluster.stale
            || cluster
                .asked
                .is_some_and(|at| now.duration_since(at) < ASK_EVERY)
        {
            return;
        }
        cluster.asked = Some(now);
        if let Some(shard) = self.shards.iter_mut().flatten().find(|s| s.ready) {
            return shard.ask_slots();
        }
        if self.shards.iter().flatten().any(|s| s.is_connecting()) {
            return;
        }
        let Some(seed) = cluster
            .seeds
            .get(cluster.next_seed % cluster.seeds.len().max(1))
        else {
            return;
        };
        let seed = seed.clone();
        cluster.next_seed += 1;
        if !self.shards.iter().flatten().any(|s| s.addr == seed) {
            self.add_shard(seed);
        }
    }

    /// A new map: a shard per primary (shards of nodes that are no primary leave, their
    /// publishes failed), every followed topic on the shard that now serves its slot.
    pub(super) fn apply_map(&mut self, map: SlotMap) {
        let primaries: Vec<String> = map.primaries().into_iter().map(String::from).collect();
        log::debug!(target: "pushwire::redis", "slot map: primaries {primaries:?}, every slot served: {}", map.is_complete());
        let Some(cluster) = &mut self.cluster else {
            return;
        };
        cluster.map = Some(map);
        let registry = self.poll.registry();
        let mut failed = Vec::new();
        for (i, place) in self.shards.iter_mut().enumerate() {
            if place.as_ref().is_some_and(|s| !primaries.contains(&s.addr)) {
                let mut shard = place.take().expect("the place was just seen full");
                shard.close(registry);
                cluster.retired_losses += shard.losses;
                failed.push((i, shard.mirror.disconnected()));
            }
        }
        for (i, outcomes) in failed {
            // Its topics wait for the shard that serves their slot now (which may take its
            // place in `shards`).
            let orphans: Vec<Arc<str>> = self
                .routes
                .iter()
                .filter(|(_, s)| **s == i)
                .map(|(t, _)| t.clone())
                .collect();
            for topic in orphans {
                self.routes.remove(&topic);
                lock(&self.link.synced).remove(&topic);
                self.pending.insert(topic);
            }
            self.dispatch(i, outcomes);
        }
        for primary in primaries {
            if !self.shards.iter().flatten().any(|s| s.addr == primary) {
                self.add_shard(primary);
            }
        }
        let routed: Vec<(Arc<str>, usize)> =
            self.routes.iter().map(|(t, i)| (t.clone(), *i)).collect();
        for (topic, was) in routed {
            if self.shard_for(&topic) == Some(was) {
                continue;
            }
            if let Some(Some(shard)) = self.shards.get_mut(was) {
                shard.unfollow(&topic);
            }
            self.routes.remove(&topic);
            lock(&self.link.synced).remove(&topic);
            self.pending.insert(topic);
        }
        for topic in std::mem::take(&mut self.pending) {
            self.follow(topic);
        }
        let settled = self.cluster_view();
        if let Some(cluster) = &mut self.cluster {
            cluster.stale = !settled;
        }
    }

    /// Tells the link which primaries are up (publishes of a slot whose primary is not are
    /// refused at once); whether the whole cluster is served.
    pub(super) fn cluster_view(&mut self) -> bool {
        let Some(map) = self.cluster.as_ref().and_then(|c| c.map.as_ref()) else {
            *lock(&self.link.cluster) = None;
            return false;
        };
        let up: BTreeSet<String> = self
            .shards
            .iter()
            .flatten()
            .filter(|s| s.ready)
            .map(|s| s.addr.clone())
            .collect();
        let whole = map.is_complete() && map.primaries().iter().all(|p| up.contains(*p));
        let mut view = lock(&self.link.cluster);
        if view.as_ref().is_none_or(|(m, u)| m != map || *u != up) {
            *view = Some((map.clone(), up));
        }
        whole
    }
}
