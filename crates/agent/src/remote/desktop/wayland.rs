//! The Wayland screen, on compositors built on wlroots (sway, Hyprland, river, Wayfire, …):
//!
//! - monitors: every `wl_output` (name from `wl_output` v4 or `xdg-output`, position from
//!   `xdg-output`, size of its current mode); the first one is the primary;
//! - capture: `zwlr_screencopy_manager_v1` copies an output into a `wl_shm` buffer. The
//!   buffer lives in a memfd that is read back with `pread` after the `ready` event: no
//!   mapping, since the workspace forbids `unsafe`;
//! - input: `zwlr_virtual_pointer_v1` (one per output, so absolute motion lands on that
//!   output whatever its scale) and `zwp_virtual_keyboard_v1`, which takes evdev key codes
//!   (`evdev`) and the seat's own keymap (or a US one when the seat has none).
//!
//! GNOME (Mutter) and KDE (KWin) implement none of these: there, capture and input go
//! through xdg-desktop-portal (ScreenCast and RemoteDesktop over PipeWire), which this
//! agent does not speak; opening refuses with what is missing.
//!
//! Each wait on the compositor is bounded ([`REPLY_TIMEOUT`]), so a stuck compositor ends
//! the stream instead of hanging its thread.

mod evdev;

use super::encode::Image;
use breeze_proto::agent::remote_desktop::{DesktopControl, DesktopMonitor};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::memfd::{MFdFlags, memfd_create};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fs::File;
use std::io::Write as _;
use std::os::fd::{AsFd as _, OwnedFd};
use std::os::unix::fs::FileExt as _;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use wayland_client::globals::{GlobalListContents, registry_queue_init};
use wayland_client::protocol::{
    wl_buffer::WlBuffer,
    wl_keyboard::{self, WlKeyboard},
    wl_output::{self, WlOutput},
    wl_pointer,
    wl_registry::{self, WlRegistry},
    wl_seat::{self, WlSeat},
    wl_shm::{self, WlShm},
    wl_shm_pool::WlShmPool,
};
use wayland_client::{Connection, Dispatch, EventQueue, Proxy, QueueHandle, WEnum, delegate_noop};
use wayland_protocols::xdg::xdg_output::zv1::client::{
    zxdg_output_manager_v1::ZxdgOutputManagerV1,
    zxdg_output_v1::{self, ZxdgOutputV1},
};
use wayland_protocols_misc::zwp_virtual_keyboard_v1::client::{
    zwp_virtual_keyboard_manager_v1::ZwpVirtualKeyboardManagerV1,
    zwp_virtual_keyboard_v1::ZwpVirtualKeyboardV1,
};
use wayland_protocols_wlr::screencopy::v1::client::{
    zwlr_screencopy_frame_v1::{self, ZwlrScreencopyFrameV1},
    zwlr_screencopy_manager_v1::ZwlrScreencopyManagerV1,
};
use wayland_protocols_wlr::virtual_pointer::v1::client::{
    zwlr_virtual_pointer_manager_v1::ZwlrVirtualPointerManagerV1,
    zwlr_virtual_pointer_v1::ZwlrVirtualPointerV1,
};

/// How long one answer of the compositor may take.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// What GNOME or KDE users are told: the protocols they lack have no equivalent here.
const PORTAL_HINT: &str = "wlroots compositors (sway, Hyprland, river, Wayfire) offer it; GNOME and KDE expose capture and input only through xdg-desktop-portal (ScreenCast, RemoteDesktop), which this agent does not support; run an X session instead or set [remote] desktop_display to an X display";

/// Opens the Wayland session `socket` (a name in `$XDG_RUNTIME_DIR`, or a path).
pub fn open(socket: &str) -> Result<Box<dyn super::backend::Screen>, String> {
    Ok(Box::new(Screen::open(socket)?))
}

/// One Wayland session, opened by the desktop worker thread.
pub struct Screen {
    socket: String,
    monitors: Vec<DesktopMonitor>,
    /// The connection and what capture needs (capture takes `&self`).
    wire: RefCell<Wire>,
    /// Virtual pointers and keyboard, or why this compositor cannot take input.
    input: Result<Input, String>,
}

/// The event queue and the objects capture uses.
struct Wire {
    conn: Connection,
    queue: EventQueue<State>,
    state: State,
    shm: WlShm,
    screencopy: ZwlrScreencopyManagerV1,
    outputs: Vec<WlOutput>,
    /// The last capture's buffer, reused while the size and format stay.
    buffer: Option<ShmBuffer>,
}

/// A `wl_shm` buffer in a memfd.
struct ShmBuffer {
    spec: BufferSpec,
    file: File,
    pool: WlShmPool,
    buffer: WlBuffer,
}

/// What the events tell.
#[derive(Default)]
struct State {
    outputs: Vec<OutputInfo>,
    frame: FrameState,
    /// Whether the seat has (or had) a keyboard: only then may one ask for its keymap.
    seat_keyboard: bool,
    /// The seat's keymap (`xkb_v1`): its fd and size.
    keymap: Option<(OwnedFd, u32)>,
}

#[derive(Default)]
struct OutputInfo {
    name: Option<String>,
    xdg_name: Option<String>,
    position: (i32, i32),
    logical_position: Option<(i32, i32)>,
    logical_size: Option<(i32, i32)>,
    mode: Option<(i32, i32)>,
    rotated: bool,
}

/// The screencopy frame in flight.
#[derive(Default)]
struct FrameState {
    buffer: Option<BufferSpec>,
    buffer_done: bool,
    y_invert: bool,
    ready: bool,
    failed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct BufferSpec {
    format: WEnum<wl_shm::Format>,
    width: u32,
    height: u32,
    stride: u32,
}

struct Input {
    started: Instant,
    seat: WlSeat,
    qh: QueueHandle<State>,
    /// `Err`: why there is no pointer.
    pointer_manager: Result<ZwlrVirtualPointerManagerV1, String>,
    /// One pointer per monitor, made on first use.
    pointers: Vec<Option<ZwlrVirtualPointerV1>>,
    keyboard: Result<ZwpVirtualKeyboardV1, String>,
    keys_down: BTreeSet<u32>,
    /// (monitor, button)
    buttons_down: BTreeSet<(usize, u32)>,
}

impl Screen {
    /// Connects to `socket` and checks what capture needs; input needs are checked too,
    /// but their absence only refuses input.
    pub fn open(socket: &str) -> Result<Screen, String> {
        let path = socket_path(socket)?;
        let stream = UnixStream::connect(&path).map_err(|e| {
            format!(
                "cannot connect to the Wayland display {socket} ({}): {e}",
                path.display()
            )
        })?;
        let conn = Connection::from_socket(stream)
            .map_err(|e| format!("cannot connect to the Wayland display {socket}: {e}"))?;
        let (globals, queue) = registry_queue_init::<State>(&conn)
            .map_err(|e| format!("Wayland display {socket}: listing its globals: {e}"))?;
        let qh = queue.handle();
        let list = globals.contents().clone_list();
        let find = |interface: &str| list.iter().find(|g| g.interface == interface);
        let screencopy: ZwlrScreencopyManagerV1 = globals
            .bind(&qh, 1..=3, ())
            .map_err(|_| format!("the Wayland compositor on {socket} does not offer zwlr_screencopy_manager_v1 (screen capture): {PORTAL_HINT}"))?;
        let shm: WlShm = globals
            .bind(&qh, 1..=1, ())
            .map_err(|_| format!("the Wayland compositor on {socket} does not offer wl_shm"))?;
        let xdg: Option<ZxdgOutputManagerV1> = globals.bind(&qh, 1..=3, ()).ok();
        let mut outputs = Vec::new();
        for g in list
            .iter()
            .filter(|g| g.interface == WlOutput::interface().name)
        {
            let i = outputs.len();
            let output: WlOutput = globals.registry().bind(g.name, g.version.min(4), &qh, i);
            if let Some(xdg) = &xdg {
                xdg.get_xdg_output(&output, &qh, i);
            }
            outputs.push(output);
        }
        if outputs.is_empty() {
            return Err(format!(
                "the Wayland compositor on {socket} has no output to capture"
            ));
        }
        let seat: Option<WlSeat> = find(WlSeat::interface().name)
            .map(|g| globals.registry().bind(g.name, g.version.min(5), &qh, ()));
        let mut wire = Wire {
            conn,
            queue,
            state: State {
                outputs: (0..outputs.len()).map(|_| OutputInfo::default()).collect(),
                ..State::default()
            },
            shm,
            screencopy,
            outputs,
            buffer: None,
        };
        // One round trip answers every bind: output details, the seat's capabilities.
        wire.roundtrip()
            .map_err(|e| format!("Wayland display {socket}: {e}"))?;
        // The seat's keymap, for the virtual keyboard: the device's layout, not ours.
        if let Some(seat) = &seat
            && wire.state.seat_keyboard
        {
            let keyboard = seat.get_keyboard(&qh, ());
            wire.roundtrip()
                .map_err(|e| format!("Wayland display {socket}: {e}"))?;
            if keyboard.version() >= 3 {
                keyboard.release();
            }
        }
        let monitors = monitors(&wire.state.outputs);
        let input = match seat {
            None => Err(format!(
                "the Wayland compositor on {socket} has no seat, so input cannot be replayed"
            )),
            Some(seat) => Ok(Input::new(
                &globals,
                &mut wire,
                seat,
                monitors.len(),
                socket,
            )),
        };
        let _ = wire.conn.flush();
        let lacking = match &input {
            Err(e) => vec![e.as_str()],
            Ok(i) => [i.pointer_manager.as_ref().err(), i.keyboard.as_ref().err()]
                .into_iter()
                .flatten()
                .map(String::as_str)
                .collect(),
        };
        for e in lacking {
            tracing::info!(error = %e, "Wayland desktop: input is limited");
        }
        Ok(Screen {
            socket: socket.to_string(),
            monitors,
            wire: RefCell::new(wire),
            input,
        })
    }

    /// Captures monitor `m` whole.
    pub fn capture(&self, m: &DesktopMonitor) -> Result<Image, String> {
        self.wire.borrow_mut().capture(usize::from(m.index))
    }

    /// Replays one input event on monitor `m`; non-input controls are ignored.
    pub fn input(&mut self, m: &DesktopMonitor, ev: &DesktopControl) -> Result<(), String> {
        if !ev.is_input() {
            return Ok(());
        }
        let input = self.input.as_mut().map_err(|e| e.clone())?;
        let wire = self.wire.get_mut();
        input.replay(&wire.outputs, m, ev)?;
        wire.conn
            .flush()
            .map_err(|e| format!("input failed: {e}"))?;
        // Protocol errors (a refused request) surface here rather than on the next capture.
        wire.queue
            .dispatch_pending(&mut wire.state)
            .map_err(|e| format!("input failed: {e}"))?;
        Ok(())
    }

    /// Releases every key and button this session pressed.
    pub fn release_all(&mut self) {
        if let Ok(input) = &mut self.input {
            input.release_all();
        }
        let _ = self.wire.get_mut().conn.flush();
    }
}

/// Where the socket is: an absolute `WAYLAND_DISPLAY` is used as it is, a name is looked
/// up in `$XDG_RUNTIME_DIR` (as libwayland does).
fn socket_path(socket: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(socket);
    if p.is_absolute() {
        return Ok(p);
    }
    let dir = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|d| !d.is_empty())
        .ok_or_else(|| {
            format!("WAYLAND_DISPLAY is {socket} but XDG_RUNTIME_DIR is not set, so its socket cannot be found")
        })?;
    Ok(PathBuf::from(dir).join(p))
}

/// The monitors, in the compositor's order; the first is the primary.
fn monitors(outputs: &[OutputInfo]) -> Vec<DesktopMonitor> {
    outputs
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let (w, h) = match o.mode {
                Some((w, h)) if o.rotated => (h, w),
                Some(size) => size,
                None => o.logical_size.unwrap_or((0, 0)),
            };
            let (x, y) = o.logical_position.unwrap_or(o.position);
            DesktopMonitor {
                index: u16::try_from(i).unwrap_or(u16::MAX),
                name: o
                    .name
                    .clone()
                    .or_else(|| o.xdg_name.clone())
                    .unwrap_or_else(|| format!("output {i}")),
                x: saturate_i16(x),
                y: saturate_i16(y),
                width: u16::try_from(w.max(0)).unwrap_or(u16::MAX),
                height: u16::try_from(h.max(0)).unwrap_or(u16::MAX),
                primary: i == 0,
            }
        })
        .collect()
}

fn saturate_i16(v: i32) -> i16 {
    i16::try_from(v.clamp(i32::from(i16::MIN), i32::from(i16::MAX))).unwrap_or(0)
}

impl Wire {
    fn roundtrip(&mut self) -> Result<(), String> {
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = done.clone();
        self.conn
            .display()
            .sync(&self.queue.handle(), SyncDone(flag));
        self.dispatch_until(|_| done.load(std::sync::atomic::Ordering::SeqCst))
    }

    /// Dispatches events until `done`, at most [`REPLY_TIMEOUT`].
    fn dispatch_until(&mut self, done: impl Fn(&State) -> bool) -> Result<(), String> {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            self.queue
                .dispatch_pending(&mut self.state)
                .map_err(|e| format!("the compositor closed the connection: {e}"))?;
            if done(&self.state) {
                return Ok(());
            }
            self.queue
                .flush()
                .map_err(|e| format!("the compositor closed the connection: {e}"))?;
            let Some(guard) = self.queue.prepare_read() else {
                continue; // events arrived meanwhile
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err("the compositor did not answer in time".into());
            }
            let ready = {
                let mut fds = [PollFd::new(guard.connection_fd(), PollFlags::POLLIN)];
                match poll(
                    &mut fds,
                    PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX),
                ) {
                    Ok(n) => n > 0,
                    Err(nix::errno::Errno::EINTR) => false,
                    Err(e) => return Err(format!("waiting for the compositor: {e}")),
                }
            };
            if ready {
                match guard.read() {
                    Ok(_) => {}
                    Err(wayland_client::backend::WaylandError::Io(e))
                        if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(format!("the compositor closed the connection: {e}")),
                }
            }
        }
    }

    /// Copies output `i` into an image.
    fn capture(&mut self, i: usize) -> Result<Image, String> {
        let output = self
            .outputs
            .get(i)
            .ok_or_else(|| format!("there is no monitor {i}"))?
            .clone();
        self.state.frame = FrameState::default();
        let frame = self
            .screencopy
            .capture_output(0, &output, &self.queue.handle(), ());
        let result = self.copy(&frame);
        frame.destroy();
        let _ = self.conn.flush();
        result
    }

    fn copy(&mut self, frame: &ZwlrScreencopyFrameV1) -> Result<Image, String> {
        // Version 3 lists every buffer type, then `buffer_done`; before, `buffer` is all.
        let listed_all = frame.version() < 3;
        self.dispatch_until(|s| {
            s.frame.failed || (s.frame.buffer.is_some() && (listed_all || s.frame.buffer_done))
        })?;
        let spec = match self.state.frame.buffer {
            Some(spec) if !self.state.frame.failed => spec,
            _ => return Err("the compositor refused to copy the screen".into()),
        };
        let (format, swap) = match spec.format {
            WEnum::Value(f @ (wl_shm::Format::Xrgb8888 | wl_shm::Format::Argb8888)) => (f, false),
            WEnum::Value(f @ (wl_shm::Format::Xbgr8888 | wl_shm::Format::Abgr8888)) => (f, true),
            other => {
                return Err(format!(
                    "the compositor copies the screen only as {other:?}, which this agent cannot read"
                ));
            }
        };
        let (width, height, stride) = (
            usize::try_from(spec.width).unwrap_or(0),
            usize::try_from(spec.height).unwrap_or(0),
            usize::try_from(spec.stride).unwrap_or(0),
        );
        if width == 0 || height == 0 || stride < width * 4 {
            return Err(format!(
                "the compositor offered an unusable buffer: {spec:?}"
            ));
        }
        let qh = self.queue.handle();
        if self.buffer.as_ref().is_none_or(|b| b.spec != spec) {
            if let Some(old) = self.buffer.take() {
                old.buffer.destroy();
                old.pool.destroy();
            }
            self.buffer = Some(ShmBuffer::new(&self.shm, &qh, spec, format)?);
        }
        let Some(shm) = &self.buffer else {
            return Err("no capture buffer".into());
        };
        frame.copy(&shm.buffer);
        self.dispatch_until(|s| s.frame.ready || s.frame.failed)?;
        if self.state.frame.failed {
            return Err("the compositor failed to copy the screen".into());
        }
        let Some(shm) = &self.buffer else {
            return Err("no capture buffer".into());
        };
        let mut raw = vec![0u8; stride * height];
        shm.file
            .read_exact_at(&mut raw, 0)
            .map_err(|e| format!("reading the captured screen: {e}"))?;
        Ok(to_bgrx(
            &raw,
            width,
            height,
            stride,
            swap,
            self.state.frame.y_invert,
        ))
    }
}

/// Packs rows of 4-byte pixels into BGRX (`swap`: the source is RGBX), flipping the rows
/// when the compositor copied them bottom-up.
fn to_bgrx(
    raw: &[u8],
    width: usize,
    height: usize,
    stride: usize,
    swap: bool,
    y_invert: bool,
) -> Image {
    let mut bgrx = Vec::with_capacity(width * height * 4);
    for row in 0..height {
        let src = if y_invert { height - 1 - row } else { row };
        let Some(line) = raw.get(src * stride..src * stride + width * 4) else {
            break;
        };
        if swap {
            for px in line.chunks_exact(4) {
                bgrx.extend_from_slice(&[px[2], px[1], px[0], 0]);
            }
        } else {
            bgrx.extend_from_slice(line);
        }
    }
    bgrx.resize(width * height * 4, 0);
    Image {
        width,
        height,
        bgrx,
    }
}

impl ShmBuffer {
    fn new(
        shm: &WlShm,
        qh: &QueueHandle<State>,
        spec: BufferSpec,
        format: wl_shm::Format,
    ) -> Result<ShmBuffer, String> {
        let size = u64::from(spec.stride) * u64::from(spec.height);
        let file = memfd("breeze-desktop-capture")?;
        file.set_len(size)
            .map_err(|e| format!("sizing the capture buffer: {e}"))?;
        let too_big = || format!("the screen is too large to capture ({spec:?})");
        let size = i32::try_from(size).map_err(|_| too_big())?;
        let pool = shm.create_pool(file.as_fd(), size, qh, ());
        let buffer = pool.create_buffer(
            0,
            i32::try_from(spec.width).map_err(|_| too_big())?,
            i32::try_from(spec.height).map_err(|_| too_big())?,
            i32::try_from(spec.stride).map_err(|_| too_big())?,
            format,
            qh,
            (),
        );
        Ok(ShmBuffer {
            spec,
            file,
            pool,
            buffer,
        })
    }
}

/// An anonymous in-memory file, closed on exec.
fn memfd(name: &str) -> Result<File, String> {
    memfd_create(name, MFdFlags::MFD_CLOEXEC)
        .map(File::from)
        .map_err(|e| format!("creating a memory file: {e}"))
}

impl Input {
    fn new(
        globals: &wayland_client::globals::GlobalList,
        wire: &mut Wire,
        seat: WlSeat,
        monitors: usize,
        socket: &str,
    ) -> Input {
        let qh = wire.queue.handle();
        let missing = |what: &str, why: &str| {
            format!(
                "the Wayland compositor on {socket} does not offer {what} ({why}), so input cannot be replayed: {PORTAL_HINT}"
            )
        };
        // Version 2: a pointer bound to one output, so absolute motion maps onto it.
        let pointer_manager = globals
            .bind::<ZwlrVirtualPointerManagerV1, _, _>(&qh, 2..=2, ())
            .map_err(|_| missing("zwlr_virtual_pointer_manager_v1 version 2", "pointer"));
        let keyboard = globals
            .bind::<ZwpVirtualKeyboardManagerV1, _, _>(&qh, 1..=1, ())
            .map_err(|_| missing("zwp_virtual_keyboard_manager_v1", "keyboard"))
            .and_then(|manager| {
                let keyboard = manager.create_virtual_keyboard(&seat, &qh, ());
                let (fd, size) = match wire.state.keymap.take() {
                    Some(seat_keymap) => seat_keymap,
                    None => {
                        let mut file = memfd("breeze-desktop-keymap")?;
                        file.write_all(evdev::US_KEYMAP.as_bytes())
                            .map_err(|e| format!("writing the keymap: {e}"))?;
                        let size = u32::try_from(evdev::US_KEYMAP.len()).unwrap_or(0);
                        (OwnedFd::from(file), size)
                    }
                };
                keyboard.keymap(wl_keyboard::KeymapFormat::XkbV1.into(), fd.as_fd(), size);
                Ok(keyboard)
            });
        Input {
            started: Instant::now(),
            seat,
            qh,
            pointer_manager,
            pointers: (0..monitors).map(|_| None).collect(),
            keyboard,
            keys_down: BTreeSet::new(),
            buttons_down: BTreeSet::new(),
        }
    }

    /// Milliseconds for the events' `time` (wraps, as the protocol's does).
    fn time(&self) -> u32 {
        (self.started.elapsed().as_millis() % (1u128 << 32)) as u32
    }

    fn pointer(&mut self, outputs: &[WlOutput], i: usize) -> Result<&ZwlrVirtualPointerV1, String> {
        let manager = self.pointer_manager.as_ref().map_err(|e| e.clone())?;
        let slot = self
            .pointers
            .get_mut(i)
            .ok_or_else(|| format!("there is no monitor {i}"))?;
        Ok(slot.get_or_insert_with(|| {
            manager.create_virtual_pointer_with_output(
                Some(&self.seat),
                outputs.get(i),
                &self.qh,
                (),
            )
        }))
    }

    fn replay(
        &mut self,
        outputs: &[WlOutput],
        m: &DesktopMonitor,
        ev: &DesktopControl,
    ) -> Result<(), String> {
        let i = usize::from(m.index);
        let (w, h) = (u32::from(m.width.max(1)), u32::from(m.height.max(1)));
        let at = |x: i32, y: i32| {
            let x = u32::try_from(x.max(0)).unwrap_or(0).min(w - 1);
            let y = u32::try_from(y.max(0)).unwrap_or(0).min(h - 1);
            (x, y)
        };
        let time = self.time();
        match ev {
            DesktopControl::PointerMove { x, y } => {
                let (x, y) = at(*x, *y);
                let p = self.pointer(outputs, i)?;
                p.motion_absolute(time, x, y, w, h);
                p.frame();
            }
            DesktopControl::PointerButton { button, down, x, y } => {
                let (x, y) = at(*x, *y);
                let b = evdev::button(*button);
                let p = self.pointer(outputs, i)?;
                p.motion_absolute(time, x, y, w, h);
                p.frame();
                if let Some(b) = b {
                    let state = if *down {
                        wl_pointer::ButtonState::Pressed
                    } else {
                        wl_pointer::ButtonState::Released
                    };
                    p.button(time, b, state);
                    p.frame();
                    if *down {
                        self.buttons_down.insert((i, b));
                    } else {
                        self.buttons_down.remove(&(i, b));
                    }
                }
            }
            DesktopControl::Wheel { dx, dy, x, y } => {
                let (x, y) = at(*x, *y);
                let p = self.pointer(outputs, i)?;
                p.motion_absolute(time, x, y, w, h);
                p.frame();
                p.axis_source(wl_pointer::AxisSource::Wheel);
                for (axis, d) in [
                    (wl_pointer::Axis::VerticalScroll, evdev::notches(*dy)),
                    (wl_pointer::Axis::HorizontalScroll, evdev::notches(*dx)),
                ] {
                    if d != 0 {
                        // 15 per notch: what libinput reports for a wheel click.
                        p.axis_discrete(time, axis, f64::from(d) * 15.0, d);
                    }
                }
                p.frame();
            }
            DesktopControl::Key { key, code, down } => {
                let keyboard = self.keyboard.as_ref().map_err(|e| e.clone())?;
                let Some(k) = evdev::key(code.as_deref(), key) else {
                    tracing::debug!(%key, "no evdev key for this key");
                    return Ok(());
                };
                keyboard.key(time, k, u32::from(*down));
                if *down {
                    self.keys_down.insert(k);
                } else {
                    self.keys_down.remove(&k);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn release_all(&mut self) {
        let time = self.time();
        if let Ok(keyboard) = &self.keyboard {
            for k in std::mem::take(&mut self.keys_down) {
                keyboard.key(time, k, 0);
            }
        }
        for (i, b) in std::mem::take(&mut self.buttons_down) {
            if let Some(Some(p)) = self.pointers.get(i) {
                p.button(time, b, wl_pointer::ButtonState::Released);
                p.frame();
            }
        }
    }
}

impl super::backend::Screen for Screen {
    fn display(&self) -> String {
        self.socket.clone()
    }

    fn monitors(&self) -> &[DesktopMonitor] {
        &self.monitors
    }

    fn capture(&self, m: &DesktopMonitor) -> Result<Image, String> {
        Screen::capture(self, m)
    }

    fn input(&mut self, m: &DesktopMonitor, ev: &DesktopControl) -> Result<(), String> {
        Screen::input(self, m, ev)
    }

    fn release_all(&mut self) {
        Screen::release_all(self);
    }
}

// Events.

/// `wl_display.sync`'s callback: sets the flag when done.
struct SyncDone(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Dispatch<wayland_client::protocol::wl_callback::WlCallback, SyncDone> for State {
    fn event(
        _: &mut Self,
        _: &wayland_client::protocol::wl_callback::WlCallback,
        _: wayland_client::protocol::wl_callback::Event,
        done: &SyncDone,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        done.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Dispatch<WlRegistry, GlobalListContents> for State {
    fn event(
        _: &mut Self,
        _: &WlRegistry,
        _: wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        // Outputs plugged in later are not followed: the monitor list is fixed per stream.
    }
}

impl Dispatch<WlOutput, usize> for State {
    fn event(
        state: &mut Self,
        _: &WlOutput,
        event: wl_output::Event,
        i: &usize,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let Some(o) = state.outputs.get_mut(*i) else {
            return;
        };
        match event {
            wl_output::Event::Geometry {
                x, y, transform, ..
            } => {
                o.position = (x, y);
                o.rotated = matches!(
                    transform,
                    WEnum::Value(
                        wl_output::Transform::_90
                            | wl_output::Transform::_270
                            | wl_output::Transform::Flipped90
                            | wl_output::Transform::Flipped270
                    )
                );
            }
            wl_output::Event::Mode {
                flags,
                width,
                height,
                ..
            } => {
                if let WEnum::Value(f) = flags
                    && f.contains(wl_output::Mode::Current)
                {
                    o.mode = Some((width, height));
                }
            }
            wl_output::Event::Name { name } => o.name = Some(name),
            _ => {}
        }
    }
}

impl Dispatch<ZxdgOutputV1, usize> for State {
    fn event(
        state: &mut Self,
        _: &ZxdgOutputV1,
        event: zxdg_output_v1::Event,
        i: &usize,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let Some(o) = state.outputs.get_mut(*i) else {
            return;
        };
        match event {
            zxdg_output_v1::Event::LogicalPosition { x, y } => o.logical_position = Some((x, y)),
            zxdg_output_v1::Event::LogicalSize { width, height } => {
                o.logical_size = Some((width, height));
            }
            zxdg_output_v1::Event::Name { name } => o.xdg_name = Some(name),
            _ => {}
        }
    }
}

impl Dispatch<ZwlrScreencopyFrameV1, ()> for State {
    fn event(
        state: &mut Self,
        _: &ZwlrScreencopyFrameV1,
        event: zwlr_screencopy_frame_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let f = &mut state.frame;
        match event {
            zwlr_screencopy_frame_v1::Event::Buffer {
                format,
                width,
                height,
                stride,
            } => {
                f.buffer = Some(BufferSpec {
                    format,
                    width,
                    height,
                    stride,
                });
            }
            zwlr_screencopy_frame_v1::Event::Flags { flags } => {
                f.y_invert = matches!(flags, WEnum::Value(fl) if fl.contains(zwlr_screencopy_frame_v1::Flags::YInvert));
            }
            zwlr_screencopy_frame_v1::Event::BufferDone => f.buffer_done = true,
            zwlr_screencopy_frame_v1::Event::Ready { .. } => f.ready = true,
            zwlr_screencopy_frame_v1::Event::Failed => f.failed = true,
            _ => {}
        }
    }
}

impl Dispatch<WlKeyboard, ()> for State {
    fn event(
        state: &mut Self,
        _: &WlKeyboard,
        event: wl_keyboard::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_keyboard::Event::Keymap { format, fd, size } = event
            && format == WEnum::Value(wl_keyboard::KeymapFormat::XkbV1)
        {
            state.keymap = Some((fd, size));
        }
    }
}

delegate_noop!(State: ignore WlShm);
impl Dispatch<WlSeat, ()> for State {
    fn event(
        state: &mut Self,
        _: &WlSeat,
        event: wl_seat::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_seat::Event::Capabilities {
            capabilities: WEnum::Value(c),
        } = event
        {
            state.seat_keyboard |= c.contains(wl_seat::Capability::Keyboard);
        }
    }
}

delegate_noop!(State: ignore WlBuffer);
delegate_noop!(State: WlShmPool);
delegate_noop!(State: ZxdgOutputManagerV1);
delegate_noop!(State: ZwlrScreencopyManagerV1);
delegate_noop!(State: ZwlrVirtualPointerManagerV1);
delegate_noop!(State: ZwlrVirtualPointerV1);
delegate_noop!(State: ZwpVirtualKeyboardManagerV1);
delegate_noop!(State: ZwpVirtualKeyboardV1);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rgbx_rows_become_bgrx_and_bottom_up_rows_are_flipped() {
        // 2×2, stride 12 (4 bytes of padding a row); row 0 red, row 1 blue, as RGBX.
        let raw = [
            255, 0, 0, 0, 255, 0, 0, 0, 9, 9, 9, 9, //
            0, 0, 255, 0, 0, 0, 255, 0, 9, 9, 9, 9,
        ];
        let img = to_bgrx(&raw, 2, 2, 12, true, false);
        assert_eq!(img.bgrx[..8], [0, 0, 255, 0, 0, 0, 255, 0]);
        assert_eq!(img.bgrx[8..], [255, 0, 0, 0, 255, 0, 0, 0]);
        let flipped = to_bgrx(&raw, 2, 2, 12, true, true);
        assert_eq!(flipped.bgrx[..8], [255, 0, 0, 0, 255, 0, 0, 0]);
        let kept = to_bgrx(&raw, 2, 2, 12, false, false);
        assert_eq!(kept.bgrx[..8], raw[..8]);
        assert_eq!(kept.bgrx.len(), 16);
    }

    #[test]
    fn absolute_sockets_are_used_as_they_are() {
        assert_eq!(
            socket_path("/run/user/1000/wayland-1").unwrap(),
            PathBuf::from("/run/user/1000/wayland-1")
        );
    }
}
