//! The LwM2M client nobody on the project wrote: Telefonica's `lwm2m-node-lib` (npm, pinned in
//! tests/lwm2m_client/package-lock.json, installed with `npm ci`) run by tests/lwm2m_client/client.cjs,
//! for the process-level tests (devices.rs, portal_browser.rs).

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The node client's folder with its npm packages, or `None` (skipped) without node/npm outside CI.
pub fn node_client() -> Option<PathBuf> {
    super::lwm2m_node_client(&[])
}

/// The node client: its process, stdin and a channel of its JSON lines.
pub struct Client {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<Value>,
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Client {
    pub fn start(dir: &PathBuf, server: SocketAddr, endpoint: &str, serial: &str) -> Client {
        let mut node = Command::new("node");
        node.current_dir(dir).args(["client.cjs", "127.0.0.1", &server.port().to_string(), endpoint, "300", serial]);
        let (mut child, lines) = spawn_json_lines(&mut node, Stdio::piped());
        let stdin = child.stdin.take().unwrap();
        Client { child, stdin, lines }
    }

    pub fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// The next line whose `event` is `event` (others are skipped), within 15 s.
    pub fn expect(&self, event: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) if v["event"] == event => return v,
                Ok(v) if v["event"] == "error" => panic!("client error while waiting for {event}: {v}"),
                Ok(_) => {}
                Err(_) => panic!("client never said {event}"),
            }
        }
    }
}

/// Starts a scripted device (`command`, its stdin as given) and reads the JSON lines it prints
/// into a channel, from a thread; lines that are not JSON are skipped.
pub fn spawn_json_lines(command: &mut Command, stdin: Stdio) -> (Child, mpsc::Receiver<Value>) {
    let mut child =
        command.stdin(stdin).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("start the device");
    let out = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                let _ = tx.send(v);
            }
        }
    });
    (child, lines)
}
