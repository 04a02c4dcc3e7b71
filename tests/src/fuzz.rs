//! A bounded mutation fuzzer for the stable toolchain (no libFuzzer here): each target gets seed
//! inputs (valid documents from `samples`), and a fixed number of executions on mutations of them
//! — bit flips, cut, repeated and spliced ranges, structure tokens of the formats (`<`, `]]>`,
//! `PK\x03\x04`, `obj`, `{`, …), huge counts. Every execution runs under `catch_unwind`; a panic
//! is a finding (the input is kept so it can become a regression test). Deterministic by seed.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

/// Tokens that mean something to one of the parsers: mutations splice them in.
const TOKENS: &[&[u8]] = &[
    b"<",
    b">",
    b"</",
    b"<!--",
    b"-->",
    b"<![CDATA[",
    b"]]>",
    b"&#x",
    b"&amp;",
    b"\"",
    b"'",
    b"<w:t>",
    b"</w:t>",
    b"<a:t>",
    b"<si>",
    b"<v>",
    b"<c r=\"A1\" t=\"s\">",
    b"<loc>",
    b"<url>",
    b"<sitemapindex>",
    b"PK\x03\x04",
    b"PK\x01\x02",
    b"PK\x05\x06",
    b"%PDF-1.7\n",
    b"obj",
    b"endobj",
    b"stream\n",
    b"endstream",
    b"xref",
    b"trailer",
    b"startxref",
    b"<<",
    b">>",
    b"/Length 999999999",
    b"BT",
    b"ET",
    b"Tj",
    b"TJ",
    b"(",
    b")",
    b"[",
    b"]",
    b"{",
    b"}",
    b":",
    b",",
    b"null",
    b"1e999",
    b"-9223372036854775809",
    b"\\u0000",
    b"\\ud800",
    b"#",
    b"##",
    b"```",
    b"|",
    b"---",
    b"\r\n",
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\xc3",
    b"User-agent: *",
    b"Disallow: /",
    b"Allow: ",
    b"Crawl-delay: 99999999999",
    b"Sitemap: ",
    b"*",
    b"$",
    b"\"\"\"",
    b";",
    b"\t",
    // Chat payloads and tokens: form encoding, mentions, JWT/JWS pieces, claims.
    b"&",
    b"=",
    b"%",
    b"%7B",
    b"+",
    b"<@U0BOT>",
    b"<at>",
    b"</at>",
    b".",
    b"eyJ",
    b"\"alg\":\"none\"",
    b"\"kid\":",
    b"\"aud\":[",
    b"\"exp\":",
    b"\"type\":\"event_callback\"",
    b"\"actionValue\":{",
    b"\"serviceurl\":",
];

/// A small deterministic generator (xorshift64*), so a run can be repeated from its seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

/// One to eight mutations of `input` (`other` is another seed, for splicing).
pub fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(8) {
        let len = out.len();
        let at = rng.below(len + 1);
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                out[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                out[i] = rng.next_u64() as u8;
            }
            2 => {
                let end = (at + rng.below(64)).min(len);
                out.drain(at..end);
            }
            3 => {
                let end = (at + rng.below(256)).min(len);
                let range = out[at..end].to_vec();
                for _ in 0..1 + rng.below(4) {
                    out.splice(at..at, range.iter().copied());
                }
            }
            4 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                out.splice(at..at, token.iter().copied());
            }
            5 => out.truncate(at),
            6 if !other.is_empty() => {
                let from = rng.below(other.len());
                let end = (from + rng.below(512)).min(other.len());
                out.splice(at..at, other[from..end].iter().copied());
            }
            7 => {
                // A digit run somewhere: counts and lengths become huge or negative.
                let digits = ["0", "-1", "4294967296", "99999999999999999999"][rng.below(4)];
                out.splice(at..at, digits.bytes());
            }
            _ => {
                let bytes: Vec<u8> = (0..rng.below(16)).map(|_| rng.next_u64() as u8).collect();
                out.splice(at..at, bytes);
            }
        }
    }
    out
}

/// What one target's run found.
#[derive(Debug)]
pub struct FuzzReport {
    pub target: &'static str,
    pub executions: usize,
    /// Inputs the target refused with an error (expected for broken documents).
    pub errors: usize,
    /// Panics: the message and the input that caused it.
    pub panics: Vec<(String, Vec<u8>)>,
    pub slowest: Duration,
}

/// Runs `target` on every seed, then on `executions` mutations of them. The target returns
/// whether the input was accepted (`Ok`) or refused with an error (`Err`).
pub fn fuzz<E>(
    target: &'static str,
    seeds: &[Vec<u8>],
    executions: usize,
    seed: u64,
    run: impl Fn(&[u8]) -> Result<(), E>,
) -> FuzzReport {
    let mut rng = Rng::new(seed);
    let mut report = FuzzReport {
        target,
        executions: 0,
        errors: 0,
        panics: Vec::new(),
        slowest: Duration::ZERO,
    };
    // Panics are findings, reported with their input: the default hook would only add noise.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let inputs = seeds.iter().cloned().chain((0..executions).map(|_| {
        let base = &seeds[rng.below(seeds.len())];
        let other = &seeds[rng.below(seeds.len())];
        mutate(&mut rng, base, other)
    }));
    for input in inputs {
        let started = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| run(&input)));
        report.slowest = report.slowest.max(started.elapsed());
        report.executions += 1;
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(_)) => report.errors += 1,
            Err(payload) => {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic without a message".into());
                report.panics.push((message, input));
            }
        }
    }
    std::panic::set_hook(hook);
    report
}

/// The process's peak resident memory in MiB (`VmHWM`), where Linux reports it.
pub fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}
