//! A minimal SMTP receiver for tests: accepts every message and keeps it, and keeps the
//! credentials clients log in with (it offers AUTH PLAIN and accepts any).

use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Clone, Default)]
pub struct Inbox(pub Arc<Mutex<Vec<String>>>, pub Arc<Mutex<Vec<String>>>);

impl Inbox {
    pub fn messages(&self) -> Vec<String> {
        self.0.lock().expect("inbox").clone()
    }

    /// The messages once there are at least `n` (the delivery queue sends them shortly
    /// after the request); panics after five seconds.
    pub async fn wait_for(&self, n: usize) -> Vec<String> {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let m = self.messages();
            if m.len() >= n {
                return m;
            }
            assert!(
                std::time::Instant::now() < until,
                "expected {n} messages, got {}",
                m.len()
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// `user:password` of every AUTH PLAIN login.
    pub fn logins(&self) -> Vec<String> {
        self.1.lock().expect("logins").clone()
    }
}

/// `AUTH PLAIN <base64 of authzid NUL user NUL password>` as `user:password`.
fn plain_login(arg: &str) -> String {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(arg.trim())
        .unwrap_or_default();
    let parts: Vec<String> = raw
        .split(|b| *b == 0)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    parts[1..].join(":")
}

/// Starts the receiver; answers its port and inbox.
pub async fn start() -> (u16, Inbox) {
    start_at(0).await
}

/// Starts the receiver on a given loopback port (0: any).
pub async fn start_at(port: u16) -> (u16, Inbox) {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind smtp");
    let port = listener.local_addr().expect("addr").port();
    let inbox = Inbox::default();
    let keep = inbox.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let keep = keep.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = BufReader::new(r).lines();
                let _ = w.write_all(b"220 test ESMTP\r\n").await;
                let mut data = None::<String>;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(buf) = data.as_mut() {
                        if line == "." {
                            keep.0
                                .lock()
                                .expect("inbox")
                                .push(data.take().unwrap_or_default());
                            let _ = w.write_all(b"250 OK\r\n").await;
                        } else {
                            buf.push_str(&line);
                            buf.push('\n');
                        }
                        continue;
                    }
                    let cmd = line.to_ascii_uppercase();
                    let reply: &[u8] = if cmd.starts_with("EHLO") {
                        b"250-test\r\n250 AUTH PLAIN\r\n"
                    } else if cmd.starts_with("HELO") {
                        b"250 test\r\n"
                    } else if cmd.starts_with("AUTH PLAIN ") {
                        keep.1
                            .lock()
                            .expect("logins")
                            .push(plain_login(&line["AUTH PLAIN ".len()..]));
                        b"235 ok\r\n"
                    } else if cmd.starts_with("DATA") {
                        data = Some(String::new());
                        b"354 go\r\n"
                    } else if cmd.starts_with("QUIT") {
                        let _ = w.write_all(b"221 bye\r\n").await;
                        break;
                    } else {
                        b"250 OK\r\n"
                    };
                    let _ = w.write_all(reply).await;
                }
            });
        }
    });
    (port, inbox)
}

/// A listener that accepts connections and never says anything (a silent SMTP server);
/// answers its port and how many connections it accepted.
pub async fn silent() -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = seen.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(sock);
        }
    });
    (port, seen)
}

/// A listener that writes `greeting` to every connection, then answers EHLO/HELO with 250
/// and every other line with `reply` (the greeting when empty): a server whose bytes must
/// never reach an API answer. Answers its port and how many connections it accepted.
pub async fn banner(
    greeting: &'static str,
    reply: &'static str,
) -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = seen.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let _ = w.write_all(greeting.as_bytes()).await;
                let mut lines = BufReader::new(r).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let cmd = line.to_ascii_uppercase();
                    let answer = if reply.is_empty() {
                        greeting
                    } else if cmd.starts_with("EHLO") || cmd.starts_with("HELO") {
                        "250 ok\r\n"
                    } else {
                        reply
                    };
                    let _ = w.write_all(answer.as_bytes()).await;
                }
            });
        }
    });
    (port, seen)
}
