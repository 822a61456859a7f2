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
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind smtp");
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
