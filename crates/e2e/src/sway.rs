//! A headless sway (wlroots' headless backend, pixman renderer: no GPU, no seat devices)
//! with outputs of known sizes and solid background colours, in a private runtime
//! directory (unix sockets only), and `wev` as a test client that prints the input it
//! receives. Used by the agent's Wayland desktop tests.
//!
//! sway refuses to run as root; when the tests are root (CI), sway and its runtime
//! directory belong to `nobody` instead. Clients run as the test user (root may open
//! anyone's socket).

use anyhow::{Context as _, Result, bail};
use std::io::{BufRead as _, BufReader};
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The user sway runs as when the tests run as root.
const NOBODY: u32 = 65534;

/// One output of the headless session.
#[derive(Clone, Copy, Debug)]
pub struct Output {
    pub width: u16,
    pub height: u16,
    /// Background `0xRRGGBB`.
    pub rgb: u32,
}

/// A running headless sway; killed (and its runtime directory removed) on drop.
pub struct Sway {
    child: Child,
    dir: PathBuf,
    /// The Wayland socket's absolute path (a valid `WAYLAND_DISPLAY`).
    pub socket: PathBuf,
    /// The IPC socket (for `swaymsg -s`).
    pub ipc: PathBuf,
}

/// Whether `program` runs.
fn runs(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

impl Sway {
    /// Whether `sway`, `swaybg` (the backgrounds) and `wev` (the test client) are on `PATH`.
    pub fn installed() -> bool {
        runs("sway", "--version") && runs("swaybg", "--help") && runs("wev", "-h")
    }

    /// Starts sway for a test: `Ok(None)` (with the reason printed) when it is not
    /// installed and `CI` is unset; under CI a missing sway is an error.
    pub fn for_test(outputs: &[Output]) -> Result<Option<Sway>> {
        if !Self::installed() {
            if std::env::var_os("CI").is_some() {
                bail!(
                    "sway, swaybg or wev is not installed, and CI is set: install the `sway swaybg wev` packages"
                );
            }
            eprintln!(
                "skipping: sway, swaybg or wev is not installed (apt-get install sway swaybg wev)"
            );
            return Ok(None);
        }
        Self::start(outputs).map(Some)
    }

    /// Starts sway with `outputs` side by side from (0, 0) (`HEADLESS-1`, `HEADLESS-2`, …),
    /// waiting until its Wayland and IPC sockets accept connections.
    pub fn start(outputs: &[Output]) -> Result<Sway> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "breeze-sway-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&dir).context("creating sway's runtime directory")?;
        let root = std::fs::metadata(&dir)?.uid() == 0;
        let mut config = String::from(
            "default_border none\ndefault_floating_border none\nfocus_follows_mouse no\n",
        );
        let mut x = 0u32;
        for (i, o) in outputs.iter().enumerate() {
            config.push_str(&format!(
                "output HEADLESS-{} resolution {}x{} position {x} 0 bg #{:06x} solid_color\n",
                i + 1,
                o.width,
                o.height,
                o.rgb
            ));
            x += u32::from(o.width);
        }
        let config_path = dir.join("config");
        std::fs::write(&config_path, config).context("writing sway's config")?;
        let mut cmd = Command::new("sway");
        cmd.arg("-c")
            .arg(&config_path)
            .env("XDG_RUNTIME_DIR", &dir)
            .env("WLR_BACKENDS", "headless")
            .env("WLR_HEADLESS_OUTPUTS", outputs.len().max(1).to_string())
            .env("WLR_LIBINPUT_NO_DEVICES", "1")
            .env("WLR_RENDERER", "pixman")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("DISPLAY")
            .env_remove("SWAYSOCK")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if root {
            for p in [&dir, &config_path] {
                std::os::unix::fs::chown(p, Some(NOBODY), Some(NOBODY))
                    .context("giving sway's runtime directory to nobody")?;
            }
            cmd.uid(NOBODY).gid(NOBODY).env("HOME", &dir);
        }
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e).context("starting sway");
            }
        };
        let mut sway = Sway {
            child,
            dir: dir.clone(),
            socket: PathBuf::new(),
            ipc: PathBuf::new(),
        };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            if let Some(status) = sway.child.try_wait()? {
                bail!("sway exited at start ({status})");
            }
            if let (Some(socket), Some(ipc)) =
                (find(&dir, "wayland-", ""), find(&dir, "sway-ipc.", ".sock"))
                && std::os::unix::net::UnixStream::connect(&socket).is_ok()
                && std::os::unix::net::UnixStream::connect(&ipc).is_ok()
            {
                sway.socket = socket;
                sway.ipc = ipc;
                return Ok(sway);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("sway did not open its sockets in {}", dir.display())
    }

    /// Runs `swaymsg` against this sway and returns its output.
    pub fn msg(&self, args: &[&str]) -> Result<String> {
        let out = Command::new("swaymsg")
            .arg("-s")
            .arg(&self.ipc)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .context("running swaymsg")?;
        if !out.status.success() {
            bail!(
                "swaymsg {args:?} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Opens `wev`, which sway tiles over the focused output (`HEADLESS-1`), and waits
    /// until its window is mapped.
    pub fn wev(&self) -> Result<Wev> {
        // wev prints with stdio, fully buffered into a pipe: line-buffer it.
        let mut child = Command::new("stdbuf")
            .args(["-oL", "wev"])
            .env("WAYLAND_DISPLAY", &self.socket)
            .env("XDG_RUNTIME_DIR", &self.dir)
            .env_remove("DISPLAY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting wev")?;
        let out = child.stdout.take().context("wev stdout")?;
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if let Ok(mut l) = sink.lock() {
                    l.push(line);
                }
            }
        });
        let wev = Wev { child, lines };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if self
                .msg(&["-t", "get_tree"])?
                .contains("\"app_id\": \"wev\"")
            {
                return Ok(wev);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("wev's window did not appear in sway's tree")
    }
}

/// The first entry of `dir` named `prefix…suffix` (not a `.lock`).
fn find(dir: &Path, prefix: &str, suffix: &str) -> Option<PathBuf> {
    std::fs::read_dir(dir).ok()?.flatten().find_map(|e| {
        let name = e.file_name().into_string().ok()?;
        (name.starts_with(prefix) && name.ends_with(suffix) && !name.ends_with(".lock"))
            .then(|| e.path())
    })
}

impl Drop for Sway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running `wev`: the lines it printed so far; killed on drop.
pub struct Wev {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Wev {
    /// Waits until a printed line satisfies `pred`, and returns it.
    pub fn wait_line(&self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(lines) = self.lines.lock()
                && let Some(l) = lines.iter().find(|l| pred(l))
            {
                return Some(l.clone());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Everything printed so far (for failure messages).
    pub fn output(&self) -> String {
        self.lines.lock().map(|l| l.join("\n")).unwrap_or_default()
    }
}

impl Drop for Wev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
