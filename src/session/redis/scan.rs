//! Counting keys by pattern. One server: `SCAN`. A cluster: `SCAN` on every
//! master, each reached through a slot it serves (the cluster client's own
//! routing), since a cluster-wide cursor does not exist.

use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{Cmd, FromRedisValue, RedisResult};

use super::connect::Conn;

/// Keys matching `pattern` on every master.
pub(super) async fn count(mut conn: Conn, pattern: &str) -> RedisResult<u64> {
    let Conn::Cluster(cluster) = &mut conn else {
        return count_node(&mut conn, None, pattern).await;
    };
    let nodes: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query_async(cluster)
        .await?;
    let mut total = 0;
    for slot in one_slot_per_master(&nodes) {
        total += count_node(&mut conn, Some(slot), pattern).await?;
    }
    Ok(total)
}

/// `SCAN` to the end on one node: the one serving `slot`, or the only one.
async fn count_node(conn: &mut Conn, slot: Option<u16>, pattern: &str) -> RedisResult<u64> {
    let (mut cursor, mut total) = (0u64, 0u64);
    loop {
        let mut scan = redis::cmd("SCAN");
        scan.arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000);
        let (next, keys): (u64, Vec<String>) = query(conn, scan, slot).await?;
        total += keys.len() as u64;
        if next == 0 {
            return Ok(total);
        }
        cursor = next;
    }
}

async fn query<T: FromRedisValue>(conn: &mut Conn, cmd: Cmd, slot: Option<u16>) -> RedisResult<T> {
    match (conn, slot) {
        (Conn::Cluster(c), Some(slot)) => {
            let route = Route::new(slot, SlotAddr::Master);
            let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route));
            Ok(T::from_redis_value(c.route_command(cmd, routing).await?)?)
        }
        (c, _) => cmd.query_async(c).await,
    }
}

/// The first slot of each healthy master in `CLUSTER NODES` (`id addr flags
/// master-id ping pong epoch state slot...`).
fn one_slot_per_master(nodes: &str) -> Vec<u16> {
    nodes
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let flags = fields.get(2)?;
            let healthy = flags.split(',').any(|f| f == "master") && !flags.contains("fail");
            let first_range = fields.get(8).filter(|_| healthy)?;
            first_range.split('-').next()?.parse().ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_slot_per_healthy_master() {
        let nodes = "\
a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460
b2 127.0.0.1:7001@17001 master - 0 1 2 connected 5461-10922 12000
c3 127.0.0.1:7002@17002 master,fail - 0 1 3 connected 10923-16383
d4 127.0.0.1:7003@17003 slave a1 0 1 1 connected
e5 127.0.0.1:7004@17004 master - 0 1 5 connected
";
        assert_eq!(one_slot_per_master(nodes), vec![0, 5461]);
    }
}
