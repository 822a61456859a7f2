//! Logged-in users. Linux: `/var/run/utmp` parsed directly (glibc layout), with
//! `who` as the fallback; elsewhere `who`.

use breeze_proto::agent::LoggedInUser;
use chrono::{DateTime, Utc};

pub fn collect() -> Vec<LoggedInUser> {
    #[cfg(target_os = "linux")]
    for path in ["/var/run/utmp", "/run/utmp"] {
        if let Ok(bytes) = std::fs::read(path) {
            return parse_utmp(&bytes);
        }
    }
    super::command_output("who", &[])
        .map(|t| parse_who(&t))
        .unwrap_or_default()
}

/// The user most recently logged in, if any.
pub fn last_user(users: &[LoggedInUser]) -> Option<String> {
    users
        .iter()
        .max_by_key(|u| u.login_time)
        .map(|u| u.username.clone())
}

const UTMP_SIZE: usize = 384;
const USER_PROCESS: i16 = 7;

fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).trim().to_string()
}

/// glibc `struct utmp` on 64-bit Linux (384 bytes): `ut_type` i16 (+2 pad),
/// `ut_pid` i32, `ut_line[32]`, `ut_id[4]`, `ut_user[32]`, `ut_host[256]`,
/// `ut_exit` (4), `ut_session` i32, `ut_tv` (i32 sec, i32 usec), `ut_addr_v6[16]`, pad.
pub fn parse_utmp(bytes: &[u8]) -> Vec<LoggedInUser> {
    bytes
        .chunks_exact(UTMP_SIZE)
        .filter_map(|rec| {
            let ut_type = i16::from_ne_bytes([rec[0], rec[1]]);
            if ut_type != USER_PROCESS {
                return None;
            }
            let username = c_string(&rec[44..76]);
            if username.is_empty() {
                return None;
            }
            let host = c_string(&rec[76..332]);
            let secs = i32::from_ne_bytes([rec[340], rec[341], rec[342], rec[343]]);
            Some(LoggedInUser {
                username,
                terminal: c_string(&rec[8..40]),
                host: (!host.is_empty()).then_some(host),
                login_time: DateTime::<Utc>::from_timestamp(i64::from(secs), 0),
            })
        })
        .collect()
}

/// `who` output: `alice    pts/0        2024-01-15 09:00 (10.0.0.5)`.
pub fn parse_who(text: &str) -> Vec<LoggedInUser> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let username = f.next()?.to_string();
            let terminal = f.next()?.to_string();
            let host = l
                .rfind('(')
                .and_then(|i| l[i + 1..].strip_suffix(')'))
                .map(str::to_string);
            Some(LoggedInUser {
                username,
                terminal,
                host,
                login_time: None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(ut_type: i16, line: &str, user: &str, host: &str, secs: i32) -> Vec<u8> {
        let mut r = vec![0u8; UTMP_SIZE];
        r[0..2].copy_from_slice(&ut_type.to_ne_bytes());
        r[8..8 + line.len()].copy_from_slice(line.as_bytes());
        r[44..44 + user.len()].copy_from_slice(user.as_bytes());
        r[76..76 + host.len()].copy_from_slice(host.as_bytes());
        r[340..344].copy_from_slice(&secs.to_ne_bytes());
        r
    }

    #[test]
    fn utmp_user_processes_are_read() {
        let mut bytes = record(2, "~", "reboot", "", 1);
        bytes.extend(record(
            USER_PROCESS,
            "pts/0",
            "alice",
            "10.0.0.5",
            1_700_000_000,
        ));
        let users = parse_utmp(&bytes);
        assert_eq!(users.len(), 1);
        assert_eq!(
            (users[0].username.as_str(), users[0].terminal.as_str()),
            ("alice", "pts/0")
        );
        assert_eq!(users[0].host.as_deref(), Some("10.0.0.5"));
        assert_eq!(last_user(&users).as_deref(), Some("alice"));
    }

    #[test]
    fn who_output_is_read() {
        let users = parse_who(
            "bob      tty1         2024-01-15 09:00\nalice    pts/0        2024-01-15 09:05 (10.0.0.5)\n",
        );
        assert_eq!(users.len(), 2);
        assert_eq!(users[1].host.as_deref(), Some("10.0.0.5"));
    }
}
