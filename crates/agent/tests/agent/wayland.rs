//! The agent's Wayland screen under a headless sway: the outputs are listed with their
//! names, positions and sizes, a capture shows each output's background colour, and
//! pointer, wheel and keyboard input reach a client (`wev`, which prints what it gets).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use breeze_agent::remote::desktop::backend::{Choice, Screen};
use breeze_agent::remote::desktop::encode::Image;
use breeze_e2e::sway::{Output, Sway};
use breeze_proto::agent::remote_desktop::{DesktopControl, DesktopMonitor};
use std::time::{Duration, Instant};

fn open(sway: &Sway) -> Box<dyn Screen> {
    let socket = sway.socket.to_str().unwrap().to_string();
    match Choice::Wayland(socket).open() {
        Ok(s) => s,
        Err(e) => panic!("opening the Wayland screen: {e}"),
    }
}

/// The RGB pixel at (`x`, `y`).
fn rgb(img: &Image, x: usize, y: usize) -> u32 {
    let at = (y * img.width + x) * 4;
    let p = &img.bgrx[at..at + 4];
    u32::from(p[2]) << 16 | u32::from(p[1]) << 8 | u32::from(p[0])
}

/// Captures `m` until the corners and the middle show `want` (swaybg paints the
/// background a moment after sway starts), or fails with what the last capture showed.
fn capture_showing(screen: &dyn Screen, m: &DesktopMonitor, want: u32) -> Image {
    let start = Instant::now();
    loop {
        let img = screen.capture(m).unwrap();
        assert_eq!(
            (img.width, img.height),
            (usize::from(m.width), usize::from(m.height))
        );
        assert_eq!(img.bgrx.len(), img.width * img.height * 4);
        let (w, h) = (img.width, img.height);
        let points = [
            (0, 0),
            (w - 1, 0),
            (0, h - 1),
            (w - 1, h - 1),
            (w / 2, h / 2),
        ];
        let seen: Vec<u32> = points.iter().map(|&(x, y)| rgb(&img, x, y)).collect();
        if seen.iter().all(|c| *c == want) {
            return img;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{} shows {seen:06x?} at {points:?}, not {want:06x}",
            m.name
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn wayland_screen_lists_sway_outputs_and_captures_their_backgrounds() {
    let outputs = [
        Output {
            width: 320,
            height: 240,
            rgb: 0x336699,
        },
        Output {
            width: 200,
            height: 160,
            rgb: 0xcc3300,
        },
    ];
    let Some(sway) = Sway::for_test(&outputs).unwrap() else {
        return;
    };
    let screen = open(&sway);
    assert_eq!(screen.display(), sway.socket.to_str().unwrap());
    let monitors = screen.monitors().to_vec();
    assert_eq!(
        monitors,
        vec![
            DesktopMonitor {
                index: 0,
                name: "HEADLESS-1".into(),
                x: 0,
                y: 0,
                width: 320,
                height: 240,
                primary: true,
            },
            DesktopMonitor {
                index: 1,
                name: "HEADLESS-2".into(),
                x: 320,
                y: 0,
                width: 200,
                height: 160,
                primary: false,
            },
        ]
    );
    for (m, o) in monitors.iter().zip(&outputs) {
        capture_showing(screen.as_ref(), m, o.rgb);
    }
    // A second round reuses the buffer of the first and still sees the right output.
    for (m, o) in monitors.iter().zip(&outputs).rev() {
        capture_showing(screen.as_ref(), m, o.rgb);
    }
}

#[test]
fn wayland_input_reaches_a_client_window() {
    let output = Output {
        width: 320,
        height: 240,
        rgb: 0x101010,
    };
    let Some(sway) = Sway::for_test(&[output, output]).unwrap() else {
        return;
    };
    let wev = sway.wev().unwrap();
    let mut screen = open(&sway);
    let m = screen.monitors()[0].clone();
    let right = screen.monitors()[1].clone();
    let wait = Duration::from_secs(10);
    let expect = |what: &str, pred: &dyn Fn(&str) -> bool| {
        wev.wait_line(wait, pred)
            .unwrap_or_else(|| panic!("wev never printed {what}; it printed:\n{}", wev.output()))
    };

    screen
        .input(&m, &DesktopControl::PointerMove { x: 100, y: 50 })
        .unwrap();
    // The first motion enters wev's surface (tiled over the whole output) right there.
    expect("the pointer at (100, 50)", &|l| {
        l.contains("wl_pointer") && l.contains("100.000000, 50.000000")
    });

    for down in [true, false] {
        let click = DesktopControl::PointerButton {
            button: 2,
            down,
            x: 120,
            y: 60,
        };
        screen.input(&m, &click).unwrap();
    }
    expect("the right button's press", &|l| {
        l.contains("button: 273") && l.contains("pressed")
    });
    expect("the right button's release", &|l| {
        l.contains("button: 273") && l.contains("released")
    });

    screen
        .input(
            &m,
            &DesktopControl::Wheel {
                dx: 0,
                dy: 1,
                x: 120,
                y: 60,
            },
        )
        .unwrap();
    // 15 a notch, positive: down (wev labels the discrete step `axis_stop`, wrongly).
    expect("a vertical wheel notch down", &|l| {
        l.contains("axis: 0 (vertical), value: 15.000000")
    });

    for down in [true, false] {
        let key = DesktopControl::Key {
            key: "q".into(),
            code: Some("KeyQ".into()),
            down,
        };
        screen.input(&m, &key).unwrap();
    }
    expect("the q key (sym q)", &|l| l.contains("sym: q"));

    // A key left down is released when the session ends.
    let shift = DesktopControl::Key {
        key: "Shift".into(),
        code: Some("ShiftRight".into()),
        down: true,
    };
    screen.input(&m, &shift).unwrap();
    expect("Shift_R's press", &|l| {
        l.contains("key: 62") && l.contains("pressed")
    });
    screen.release_all();
    expect("Shift_R's release", &|l| {
        l.contains("key: 62") && l.contains("released")
    });

    // Coordinates are the monitor's: (10, 10) on the right output is off wev's window
    // (on the left one), so the pointer leaves it.
    screen
        .input(&right, &DesktopControl::PointerMove { x: 10, y: 10 })
        .unwrap();
    expect("the pointer leaving for the right output", &|l| {
        l.contains("wl_pointer") && l.contains("leave")
    });

    // A second session finds a keyboard on the seat now (the first one's), so its virtual
    // keyboard takes the seat's keymap instead of the built-in US one; keys still type.
    let mut second = open(&sway);
    for down in [true, false] {
        let key = DesktopControl::Key {
            key: "w".into(),
            code: Some("KeyW".into()),
            down,
        };
        second.input(&m, &key).unwrap();
    }
    expect("the w key from the second session", &|l| {
        l.contains("sym: w")
    });
}

#[test]
fn a_missing_wayland_socket_is_refused_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("wayland-9");
    let Err(e) = Choice::Wayland(socket.to_str().unwrap().into()).open() else {
        panic!("a missing socket opened");
    };
    assert!(e.contains("cannot connect to the Wayland display"), "{e}");
    assert!(e.contains("wayland-9"), "{e}");
}
