//! A virtual X server (Xvfb, on a free display number, unix socket only) and a test X
//! client that maps a window of a known colour and reports the clicks it receives.
//! Used by the remote desktop tests (agent, e2e) and the desktop benchmark.

use anyhow::{Context as _, Result, bail};
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use x11rb::connection::Connection as _;
use x11rb::protocol::Event;
use x11rb::protocol::xproto::{
    ConfigureWindowAux, ConnectionExt as _, CreateWindowAux, EventMask, WindowClass,
};
use x11rb::rust_connection::RustConnection;

/// A running Xvfb; killed on drop.
pub struct Xvfb {
    child: Child,
    /// `:N`
    pub display: String,
}

impl Xvfb {
    /// Whether the `Xvfb` binary is on `PATH`.
    pub fn installed() -> bool {
        Command::new("Xvfb")
            .arg("-help")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    }

    /// Starts Xvfb for a test: `Ok(None)` (with the reason printed) when it is not
    /// installed and `CI` is unset; under CI a missing Xvfb is an error.
    pub fn for_test(width: u16, height: u16) -> Result<Option<Xvfb>> {
        if !Self::installed() {
            if std::env::var_os("CI").is_some() {
                bail!("Xvfb is not installed, and CI is set: install the `xvfb` package");
            }
            eprintln!("skipping: Xvfb is not installed (apt-get install xvfb)");
            return Ok(None);
        }
        Self::start(width, height).map(Some)
    }

    /// Starts Xvfb at `width`×`height`×24 on a display number it picks itself
    /// (`-displayfd`: the server takes the lock, so parallel tests never collide).
    pub fn start(width: u16, height: u16) -> Result<Xvfb> {
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                &format!("{width}x{height}x24"),
                "-nolisten",
                "tcp",
                // Without it the server resets when its last client leaves (the readiness
                // probe below), and a client connecting during the reset is refused.
                "-noreset",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting Xvfb")?;
        let out = child.stdout.take().context("Xvfb stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(out).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(15)).unwrap_or_default();
        let n: u32 = match line.trim().parse() {
            Ok(n) => n,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("Xvfb did not report its display number");
            }
        };
        let display = format!(":{n}");
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if x11rb::connect(Some(&display)).is_ok() {
                return Ok(Xvfb { child, display });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        bail!("Xvfb on {display} does not accept connections")
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A mapped, undecorated window of one colour that listens for button presses.
pub struct TestWindow {
    conn: RustConnection,
    window: u32,
}

impl TestWindow {
    /// Maps a `w`×`h` window at (`x`, `y`) filled with `rgb` (`0xRRGGBB`).
    pub fn open(display: &str, x: i16, y: i16, w: u16, h: u16, rgb: u32) -> Result<TestWindow> {
        let (conn, screen_num) = x11rb::connect(Some(display)).context("connecting to X")?;
        let screen = conn
            .setup()
            .roots
            .get(screen_num)
            .context("no X screen")?
            .clone();
        let window = conn.generate_id()?;
        conn.create_window(
            screen.root_depth,
            window,
            screen.root,
            x,
            y,
            w,
            h,
            0,
            WindowClass::INPUT_OUTPUT,
            screen.root_visual,
            &CreateWindowAux::new()
                .background_pixel(rgb)
                .override_redirect(1)
                .event_mask(EventMask::BUTTON_PRESS | EventMask::EXPOSURE),
        )?;
        conn.map_window(window)?;
        conn.sync()?;
        Ok(TestWindow { conn, window })
    }

    /// Moves the window (benchmarks: a moving window).
    pub fn move_to(&self, x: i32, y: i32) -> Result<()> {
        self.conn
            .configure_window(self.window, &ConfigureWindowAux::new().x(x).y(y))?;
        self.conn.sync()?;
        Ok(())
    }

    /// The first button press within `timeout`: (button, x, y in the window).
    pub fn wait_press(&self, timeout: Duration) -> Result<Option<(u8, i16, i16)>> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            while let Some(ev) = self.conn.poll_for_event()? {
                if let Event::ButtonPress(p) = ev {
                    return Ok(Some((p.detail, p.event_x, p.event_y)));
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(None)
    }
}

trait Sync {
    fn sync(&self) -> Result<()>;
}

impl Sync for RustConnection {
    /// Waits until the server processed every request sent so far.
    fn sync(&self) -> Result<()> {
        self.get_input_focus()?.reply()?;
        Ok(())
    }
}
