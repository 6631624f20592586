//! A network namespace of the test's own, for hosts that really disappear.
//!
//! [`NetNs::new`] (root only) makes a namespace `zt<pid>n`, a veth pair
//! `zt<pid>o` (outside) / `zt<pid>i` (inside) and a private /30 from
//! 10.231.0.0/16: `.1` outside, `.2` inside. As TESTING.md asks, a blackhole
//! route for that /30 (metric 4000: the connected route wins while the link
//! is up) is installed before any address, so nothing for the subnet can
//! leave the machine, and only addresses inside the namespace and on the
//! veth the test created are used. [`NetNs::cut`] takes the outer end down
//! (and checks that it is down); `Drop` deletes the veth, the namespace and
//! the route, also on panic. A test process killed without unwinding leaves
//! them behind (names start with `zt`).
//!
//! Start a host inside with [`TestEnv::add_host_in_netns`](super::TestEnv::add_host_in_netns).

use std::process::Command;

pub struct NetNs {
    pub name: String,
    pub outer_veth: String,
    pub inner_veth: String,
    pub outer_addr: String,
    pub inner_addr: String,
    /// `10.231.X.Y/30`
    pub subnet: String,
    route: bool,
}

fn ip(args: &[&str]) -> std::process::Output {
    Command::new("ip").args(args).output().expect("run ip")
}

fn ip_ok(args: &[&str]) {
    let out = ip(args);
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        super::both(&out)
    );
}

impl NetNs {
    pub fn new() -> NetNs {
        assert!(
            nix::unistd::geteuid().is_root(),
            "network namespaces need root"
        );
        let pid = std::process::id();
        // 16384 /30 subnets in 10.231.0.0/16; start from the pid, skip used ones.
        let mut k = pid % 16384;
        let (subnet, base) = loop {
            let (x, y) = (k / 64, (k % 64) * 4);
            let subnet = format!("10.231.{x}.{y}/30");
            let used = ip(&["route", "show", "table", "all", &subnet]);
            if used.stdout.is_empty() {
                break (subnet, format!("10.231.{x}.{y}"));
            }
            k = (k + 1) % 16384;
        };
        let last: u32 = base.rsplit('.').next().unwrap().parse().unwrap();
        let prefix = base.rsplit_once('.').unwrap().0.to_string();
        let tag = format!("zt{}", pid % 10_000_000);
        let mut ns = NetNs {
            name: format!("{tag}n"),
            outer_veth: format!("{tag}o"),
            inner_veth: format!("{tag}i"),
            outer_addr: format!("{prefix}.{}", last + 1),
            inner_addr: format!("{prefix}.{}", last + 2),
            subnet,
            route: false,
        };
        // Blackhole first: from here on nothing for the subnet leaves the box.
        ip_ok(&["route", "add", "blackhole", &ns.subnet, "metric", "4000"]);
        ns.route = true;
        ip_ok(&["netns", "add", &ns.name]);
        ip_ok(&[
            "link",
            "add",
            &ns.outer_veth,
            "type",
            "veth",
            "peer",
            "name",
            &ns.inner_veth,
            "netns",
            &ns.name,
        ]);
        ip_ok(&[
            "addr",
            "add",
            &format!("{}/30", ns.outer_addr),
            "dev",
            &ns.outer_veth,
        ]);
        ip_ok(&["link", "set", &ns.outer_veth, "up"]);
        ip_ok(&[
            "-n",
            &ns.name,
            "addr",
            "add",
            &format!("{}/30", ns.inner_addr),
            "dev",
            &ns.inner_veth,
        ]);
        ip_ok(&["-n", &ns.name, "link", "set", &ns.inner_veth, "up"]);
        ip_ok(&["-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }

    /// Is the outer end of the link administratively down?
    pub fn is_down(&self) -> bool {
        let out = ip(&["-o", "link", "show", "dev", &self.outer_veth]);
        let text = String::from_utf8_lossy(&out.stdout);
        // "<BROADCAST,MULTICAST,UP,LOWER_UP>": UP among the flags means up.
        let flags = text
            .split('<')
            .nth(1)
            .and_then(|r| r.split('>').next())
            .unwrap_or("");
        out.status.success() && !flags.split(',').any(|f| f == "UP")
    }

    /// Cut the link (outer end down) and check that it is down.
    pub fn cut(&self) {
        ip_ok(&["link", "set", "dev", &self.outer_veth, "down"]);
        assert!(self.is_down(), "{} is not down", self.outer_veth);
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        // Deleting one end deletes the pair.
        let _ = ip(&["link", "del", &self.outer_veth]);
        let _ = ip(&["netns", "del", &self.name]);
        if self.route {
            let _ = ip(&["route", "del", "blackhole", &self.subnet, "metric", "4000"]);
        }
    }
}
