mod support;
use std::time::Instant;
use support::{both, TestEnv};
#[test]
#[ignore]
fn probe_download() {
    let env = TestEnv::new();
    let repo = env.gear_repo("hello", "");
    let host = env.add_host("arm", "aarch64");
    let out = env.ssh(
        "arm",
        "mkdir -p ~/hasher_1 && hasher-useradd --number=1 \"$(id -un)\"",
    );
    assert!(out.status.success(), "{}", both(&out));
    env.builder(
        "arm",
        "type = \"remote\"\nhost = \"arm\"\narch = \"aarch64\"\nhasher_number = 1\n",
    );
    let o = env.zoryn(&["build", "-q", "-b", "arm"], &repo);
    assert!(o.status.success(), "{}", both(&o));
    let rt = env.root.join("run/zoryn");
    let cfg = env.ssh_config_path();
    let r1 = host
        .home
        .join("hasher_1/repo/aarch64/RPMS.hasher/hello-1.0-alt1.aarch64.rpm");
    let r2 = host
        .home
        .join("hasher_1/repo/SRPMS.hasher/hello-1.0-alt1.src.rpm");
    let ssh = format!(
        "ssh -F {} -o ControlMaster=auto -o ControlPersist=60 -o ControlPath={}/%C",
        cfg.display(),
        rt.display()
    );
    let dest = env.home.join("tmp/dl");
    std::fs::create_dir_all(&dest).unwrap();
    env.chown_all();
    let time = |script: String| -> f64 {
        let mut v = vec![];
        for _ in 0..15 {
            let mut c = env.command("bash");
            c.arg("-c").arg(&script);
            let t = Instant::now();
            let o = c.output().unwrap();
            assert!(o.status.success(), "{}", both(&o));
            v.push(t.elapsed().as_secs_f64() * 1e3);
        }
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let true_ms = time(format!("{ssh} arm true"));
    let rs = time(format!(
        "rsync --protect-args -e '{ssh}' --times --no-links arm:{} arm:{} {}/",
        r1.display(),
        r2.display(),
        dest.display()
    ));
    let cat = time(format!(
        "{ssh} arm cat {} > {}/a & {ssh} arm cat {} > {}/b; wait",
        r1.display(),
        dest.display(),
        r2.display(),
        dest.display()
    ));
    let tar = time(format!(
        "{ssh} arm tar -cf - -C / {} {} | tar -xf - -C {}",
        r1.display(),
        r2.display(),
        dest.display()
    ));
    eprintln!("RESULT ssh-true {true_ms:.1} rsync {rs:.1} cat2 {cat:.1} tar {tar:.1}");
}
