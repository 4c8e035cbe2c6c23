//! `keylens import`: files -> validation -> durable store, streaming in bounded memory.

use crate::cli::InputFormat;
use crate::Exit;
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use keylens_backend::{Batch, Key, Preparer, Store, Target};
use keylens_event::batch::{judge, judge_line};
use keylens_event::time::now_micros;
use keylens_event::{BatchAnswer, Event, Rejection};
use rustc_hash::FxHashSet;
use serde_json::Value;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;

/// Events appended per transaction: one DuckDB row group (122,880 rows), so a commit writes
/// whole row groups to the database file instead of logging rows to the WAL and copying them
/// again at the next checkpoint (measured: half the storing time of 20,000-event commits).
const BATCH: usize = keylens_store::ROW_GROUP_ROWS;

pub fn run(data: &Target, files: &[PathBuf], format: InputFormat, map: &[String]) -> Result<u8> {
    let csv_map =
        keylens_event::csv_rows::parse_map(map).map_err(|e| Exit::usage(e.to_string()))?;
    let mut store = Store::open(data)?;
    let answer = import_files_as(&mut store, files, format, &csv_map)?;
    println!("{}", serde_json::to_string(&answer)?);
    if answer.rejected.is_empty() {
        Ok(0)
    } else {
        eprintln!(
            "keylens: {} event(s) rejected (see \"rejected\"); the {} good one(s) were stored",
            answer.rejected.len(),
            answer.accepted
        );
        Ok(crate::EXIT_FAILED)
    }
}

/// Imports every file in order into `store` and brings the derived licenses up to date.
pub fn import_files(store: &mut Store, files: &[PathBuf]) -> Result<BatchAnswer> {
    import_files_as(store, files, InputFormat::Auto, &HashMap::new())
}

fn import_files_as(
    store: &mut Store,
    files: &[PathBuf],
    format: InputFormat,
    csv_map: &HashMap<String, String>,
) -> Result<BatchAnswer> {
    crate::alloc::hold_freed_memory();
    // Three stages, each on its own thread, overlapping: reading and validating; putting each
    // batch in the store's order and columns ([`Preparer`]); appending (this thread). Preparing
    // was a third of the reading thread's time, which was the import's slowest stage while the
    // appending one waited for it (BENCHMARKS.md, "Session 23"). Each stage hands a batch on only
    // when the next takes it (channels of no capacity: no slower than a batch waiting in each, and
    // 50-100 MB less at the peak of a 100k import): memory stays bounded (about a kilobyte per
    // event in flight: up to a batch waiting in each of the reader's streams
    // ([`Preparer::STREAMS`]), one in each later stage, and the batches' columns).
    let (to_prepare, judged) = std::sync::mpsc::sync_channel::<Judged>(0);
    let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(0);
    // Stored batches go back to the reader, whose vectors it fills again: a fresh one for each
    // batch (about 90 MB at 122,880 events) had the kernel zeroing new pages for a third of the
    // reading thread's time (BENCHMARKS.md, "Session 12"). The reader also drops them, freeing
    // their memory on the thread that allocated it, off the writing thread, the busier one
    // (BENCHMARKS.md, "Session 21").
    let (give_back, reuse) = std::sync::mpsc::channel::<Batch>();
    let mut answer = BatchAnswer::default();
    let mut append_time = std::time::Duration::ZERO;
    let preparer = store.preparer();
    store.set_bulk(true)?;
    let appended = std::thread::scope(|scope| -> Result<()> {
        // Named, so that `top -H` and `perf` tell the stages apart (`scripts/import-phases.py
        // --perf` splits an import's CPU time by them).
        let reader = std::thread::Builder::new()
            .name("keylens-read".into())
            .spawn_scoped(scope, move || {
                behind_the_writer();
                read_files(files, format, csv_map, preparer, to_prepare, reuse)
            })?;
        let preparing = std::thread::Builder::new()
            .name("keylens-prepare".into())
            .spawn_scoped(scope, move || {
                behind_the_writer();
                prepare_batches(preparer, judged, tx)
            })?;
        let stored = (|| -> Result<()> {
            for chunk in rx {
                answer.rejected.extend(chunk.rejected);
                let Some(batch) = chunk.batch else {
                    continue;
                };
                let started = std::time::Instant::now();
                let out = store.append_deferred(&batch)?;
                append_time += started.elapsed();
                let _ = give_back.send(batch); // the reader may be done: nothing to reuse
                answer.accepted += out.accepted;
                answer.duplicates += out.duplicates;
            }
            Ok(())
        })();
        // If storing failed, the receiver is gone: the preparing thread stops at its next batch,
        // and the reader at the one after. The first stage to fail has the error that tells why.
        let prepared = preparing
            .join()
            .expect("the preparing thread does not panic");
        let read = reader.join().expect("the reading thread does not panic");
        stored.and(prepared).and(read)
    });
    let restored = store.set_bulk(false);
    appended?;
    restored?;
    tracing::info!(
        append_s = append_time.as_secs_f64(),
        accepted = answer.accepted,
        "events stored"
    );
    let started = std::time::Instant::now();
    let bar = progress_bar(0, "deriving licenses");
    let derived = store.refold_with(&mut |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })?;
    bar.finish_and_clear();
    // The counts and spreads the metrics read, over every imported event: 19 s at 1M licenses,
    // which would otherwise pass without a word after the bar.
    let spinner = ProgressBar::new_spinner().with_message("counting validations and usage");
    spinner.enable_steady_tick(std::time::Duration::from_millis(200));
    store.catch_up_after_import()?;
    spinner.finish_and_clear();
    tracing::info!(
        derive_s = started.elapsed().as_secs_f64(),
        licenses = derived,
        "licenses derived"
    );
    Ok(answer)
}

/// How much lower the reading and preparing threads' scheduling priority is than the writing
/// thread's, in nice steps (about 1.25 x less CPU time a step when they compete for a core).
const BEHIND_THE_WRITER: i32 = 5;

/// Lowers this thread's scheduling priority by [`BEHIND_THE_WRITER`] (Linux; elsewhere
/// nothing). The writing thread sets an import's pace: it is busy nearly all the time, and
/// DuckDB writes a batch only on the thread that commits it. With the three stages at one
/// priority, the scheduler shared the two cores among three busy threads and the writer waited
/// its turn; the reader and the preparer, ahead of it, would only have waited for it later. At a
/// lower priority they take what the writer leaves: at 1M licenses the appends took 62-66 s of
/// the batches' time instead of 67-72 (BENCHMARKS.md, "Session 30"). Lowering one's own
/// priority needs no privilege; a failure leaves the priority as it was.
fn behind_the_writer() {
    #[cfg(target_os = "linux")]
    // SAFETY: system calls on this thread's own id, with no pointers.
    unsafe {
        let tid = libc::gettid() as libc::id_t;
        // getpriority's -1 is also a nice value; read errno to tell them apart.
        *libc::__errno_location() = 0;
        let now = libc::getpriority(libc::PRIO_PROCESS, tid);
        if now != -1 || *libc::__errno_location() == 0 {
            libc::setpriority(libc::PRIO_PROCESS, tid, (now + BEHIND_THE_WRITER).min(19));
        }
    }
}

/// Reads every input in order, sending judged events in batches.
fn read_files(
    files: &[PathBuf],
    format: InputFormat,
    csv_map: &HashMap<String, String>,
    preparer: Preparer,
    tx: std::sync::mpsc::SyncSender<Judged>,
    reuse: std::sync::mpsc::Receiver<Batch>,
) -> Result<()> {
    let mut sink = Sink {
        tx,
        reuse,
        preparer,
        streams: (0..Preparer::STREAMS).map(|_| Stream::default()).collect(),
        rejected: Vec::new(),
        index: 0,
        now: now_micros(),
    };
    for f in files {
        let csv = format == InputFormat::Csv
            || (format == InputFormat::Auto
                && f.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")));
        let (reader, len): (Box<dyn Read + Send>, u64) = if f.as_os_str() == "-" {
            (Box::new(io::stdin()), 0)
        } else {
            let file = File::open(f).with_context(|| format!("cannot read {}", f.display()))?;
            let meta = file.metadata().ok();
            let len = meta.as_ref().map_or(0, |m| m.len());
            if !csv && len > 0 && meta.is_some_and(|m| m.is_file()) {
                let bar = progress_bar(len, &f.display().to_string());
                read_mapped(&file, &mut sink, &bar)
                    .with_context(|| format!("reading {}", f.display()))?;
                bar.finish_and_clear();
                continue;
            }
            (Box::new(file), len)
        };
        let bar = progress_bar(len, &f.display().to_string());
        let reader = BufReader::with_capacity(1 << 20, bar.wrap_read(reader));
        if csv {
            read_csv(reader, csv_map, &mut sink)
                .with_context(|| format!("reading {}", f.display()))?;
        } else {
            read_events(reader, &mut sink).with_context(|| format!("reading {}", f.display()))?;
        }
        bar.finish_and_clear();
    }
    sink.finish()
}

fn progress_bar(len: u64, what: &str) -> ProgressBar {
    // indicatif draws only when stderr is a terminal, so pipes and CI logs stay clean.
    let bar = ProgressBar::new(len);
    let style = if len > 0 {
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
        )
    } else {
        ProgressStyle::with_template("{msg} {pos}/{len} {spinner}")
    };
    bar.set_style(
        style
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// Prepares each batch of judged events for the store, in the order they come.
fn prepare_batches(
    preparer: Preparer,
    judged: std::sync::mpsc::Receiver<Judged>,
    tx: std::sync::mpsc::SyncSender<Chunk>,
) -> Result<()> {
    // The stage's time, logged beside the appends' (`append_s`) to tell which stage an import
    // waits for.
    let mut busy = std::time::Duration::ZERO;
    for j in judged {
        let started = std::time::Instant::now();
        let batch = if j.events.is_empty() {
            None
        } else {
            Some(preparer.prepare_keyed(j.events, &j.keys)?)
        };
        busy += started.elapsed();
        let chunk = Chunk {
            batch,
            rejected: j.rejected,
        };
        tx.send(chunk)
            .map_err(|_| anyhow::anyhow!("the store stopped taking events"))?;
    }
    tracing::info!(prepare_s = busy.as_secs_f64(), "events prepared");
    Ok(())
}

/// A batch of judged events on its way to be prepared: the good ones with their keys.
struct Judged {
    events: Vec<Event>,
    /// `keys[i]` is `events[i]`'s.
    keys: Vec<Key>,
    rejected: Vec<Rejection>,
}

/// A batch of judged events on its way to the store: the good ones prepared, if any.
struct Chunk {
    batch: Option<Batch>,
    rejected: Vec<Rejection>,
}

struct Sink {
    tx: std::sync::mpsc::SyncSender<Judged>,
    /// Stored batches, whose vectors are filled again.
    reuse: std::sync::mpsc::Receiver<Batch>,
    preparer: Preparer,
    /// The judged events waiting, by the store's stream ([`Preparer::stream_of`]).
    streams: Vec<Stream>,
    rejected: Vec<Rejection>,
    /// Position of the next event across all inputs.
    index: usize,
    now: i64,
}

/// The events of one stream waiting to be sent, with their keys and their ids' hashes.
#[derive(Default)]
struct Stream {
    events: Vec<Event>,
    /// `keys[i]` is `events[i]`'s: computed once here, handed to [`Preparer::prepare_keyed`].
    keys: Vec<Key>,
    ids: WaitingIds,
}

/// The id hashes of a stream's waiting events: a set, and a bitmap in front of it that says for
/// most hashes that the set does not hold them without looking. Each event asks every stream,
/// and the sets (megabytes, for a batch's 122,880 hashes) missed the cache at each look: those
/// looks were most of `Sink::take`, 3.6% of an import's samples; the bitmaps (256 KiB each)
/// stay in the cache, and hold a stream's batch at about one false "maybe" in 17
/// (BENCHMARKS.md, "Session 30").
struct WaitingIds {
    set: FxHashSet<u64>,
    bits: Vec<u64>,
}

/// Bits of each stream's bitmap, as a power of two.
const WAITING_BITS: u32 = 21;

impl Default for WaitingIds {
    fn default() -> Self {
        WaitingIds {
            set: FxHashSet::default(),
            bits: vec![0; 1 << (WAITING_BITS - 6)],
        }
    }
}

impl WaitingIds {
    /// The bitmap's word and bit for `h`, from its top bits after a multiply (the id hash is
    /// FNV-1a, whose top bits alone are not well mixed for short ids).
    fn bit(h: u64) -> (usize, u64) {
        let b = h.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - WAITING_BITS);
        ((b >> 6) as usize, 1 << (b & 63))
    }

    fn contains(&self, h: u64) -> bool {
        let (w, m) = Self::bit(h);
        self.bits[w] & m != 0 && self.set.contains(&h)
    }

    fn insert(&mut self, h: u64) {
        let (w, m) = Self::bit(h);
        self.bits[w] |= m;
        self.set.insert(h);
    }

    fn clear(&mut self) {
        if !self.set.is_empty() {
            self.set.clear();
            self.bits.fill(0);
        }
    }
}

impl Sink {
    fn take(&mut self, judged: Result<Event, Rejection>) -> Result<()> {
        self.index += 1;
        match judged {
            Ok(e) => {
                let key = Key::of(&e);
                let mut s = self.preparer.stream_of(&key);
                if self.streams.len() > 1 {
                    // An id waiting in another stream goes there: copies of an id then meet in
                    // one batch, where the first is kept, as they do with one stream. Across
                    // batches the first is kept too: an earlier batch is stored first.
                    let h = key.hash;
                    if let Some(other) = self.streams.iter().position(|o| o.ids.contains(h)) {
                        s = other;
                    }
                    self.streams[s].ids.insert(h);
                }
                if self.streams[s].events.capacity() == 0 {
                    self.streams[s].events = self.reused();
                    self.streams[s].keys.reserve(BATCH);
                }
                let stream = &mut self.streams[s];
                stream.events.push(e);
                stream.keys.push(key);
                if stream.events.len() >= BATCH {
                    self.flush(s)?;
                }
            }
            Err(r) => self.rejected.push(r),
        }
        Ok(())
    }

    /// A stored batch's vector, emptied, or a new one.
    fn reused(&mut self) -> Vec<Event> {
        self.reuse
            .try_recv()
            .map(|stored| {
                let mut events = stored.into_events();
                events.clear();
                events
            })
            .unwrap_or_else(|_| Vec::with_capacity(BATCH))
    }

    /// Sends stream `s`'s events, with their keys and the rejections so far, to be prepared.
    fn flush(&mut self, s: usize) -> Result<()> {
        let stream = &mut self.streams[s];
        stream.ids.clear();
        let judged = Judged {
            events: std::mem::take(&mut stream.events),
            keys: std::mem::take(&mut stream.keys),
            rejected: std::mem::take(&mut self.rejected),
        };
        self.tx
            .send(judged)
            .map_err(|_| anyhow::anyhow!("the store stopped taking events"))?;
        Ok(())
    }

    /// Sends what is left: each stream's events, and the last rejections.
    fn finish(&mut self) -> Result<()> {
        for s in 0..self.streams.len() {
            if !self.streams[s].events.is_empty() {
                self.flush(s)?;
            }
        }
        if !self.rejected.is_empty() {
            self.flush(0)?;
        }
        Ok(())
    }
}

/// How often [`read_mapped`] moves the progress bar and lets go of the pages it has read.
const MAPPED_STEP: usize = 8 << 20;

/// A regular file of NDJSON judged line by line straight from its pages in the page cache,
/// mapped into memory: read through a buffer, each byte was copied by the kernel into the
/// buffer and again into a string per line (the copy alone 4.3% of a 1M import's samples, the
/// reading thread's largest after judging; BENCHMARKS.md, "Session 29"). Anything else (a JSON
/// array, one pretty-printed event) goes [`read_events`]' way from the mapping. The pages read
/// are let go of as it goes, so the file does not add to the process's resident memory.
fn read_mapped(file: &File, sink: &mut Sink, bar: &ProgressBar) -> Result<()> {
    // SAFETY: the mapping is read-only; if another process truncates the file meanwhile, reading
    // past its new end raises SIGBUS and the import stops before its answer, having acknowledged
    // nothing it did not store. Changed bytes would be read as any other input.
    let map = unsafe { memmap2::Mmap::map(file) }.context("cannot map the file into memory")?;
    // Read ahead of the reading, as the kernel does for `read`.
    let _ = map.advise(memmap2::Advice::Sequential);
    let data: &[u8] = &map;
    let Some(start) = data.iter().position(|b| !b.is_ascii_whitespace()) else {
        return Ok(());
    };
    let first_end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
    let first = std::str::from_utf8(without_cr(&data[start..first_end]));
    let ndjson = data[start] != b'[' && first.is_ok_and(is_one_json_value);
    if !ndjson {
        return read_events(&data[start..], sink);
    }
    let (mut rest, mut let_go) = (&data[start..], 0);
    while !rest.is_empty() {
        let (line, next) = match memchr::memchr(b'\n', rest) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        let at = data.len() - rest.len();
        rest = next;
        let line = std::str::from_utf8(without_cr(line))
            .map_err(|e| anyhow::anyhow!("not valid UTF-8 at byte {}", at + e.valid_up_to()))?;
        if !line.trim().is_empty() {
            let j = judge_line(line, sink.index, sink.now);
            sink.take(j)?;
        }
        let read = data.len() - rest.len();
        if read - let_go >= MAPPED_STEP {
            bar.set_position(read as u64);
            // Whole pages below what is read: the events judged from them own their values.
            let upto = read & !(4095);
            // SAFETY: no reference into [let_go, upto) outlives this call (the lines there are
            // judged into owned events), and a read-only file mapping gives the same bytes
            // again should they be read.
            let _ = unsafe {
                map.unchecked_advise_range(
                    memmap2::UncheckedAdvice::DontNeed,
                    let_go,
                    upto - let_go,
                )
            };
            let_go = upto;
        }
    }
    bar.set_position(data.len() as u64);
    Ok(())
}

/// Whether `line` is one whole JSON value: NDJSON's first line is, a pretty-printed event's is
/// not.
fn is_one_json_value(line: &str) -> bool {
    serde_json::from_str::<Value>(line).is_ok()
}

/// `line` without the `\r` of a CRLF line end, as [`BufRead::lines`] gives it.
fn without_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// CSV rows, each judged like an NDJSON line; problems name the row's line number.
fn read_csv(reader: impl Read, map: &HashMap<String, String>, sink: &mut Sink) -> Result<()> {
    let rows =
        keylens_event::csv_rows::read(reader, map).map_err(|e| Exit::usage(e.to_string()))?;
    for (line, row) in rows {
        let judged = match row {
            Ok(v) => judge(&v, sink.index, sink.now).map_err(|mut r| {
                r.error = format!("line {line}: {}", r.error);
                r
            }),
            Err(message) => Err(Rejection {
                index: sink.index,
                id: None,
                field: String::new(),
                error: format!("line {line}: {message}"),
            }),
        };
        sink.take(judged)?;
    }
    Ok(())
}

/// Splits one input into events: a JSON array, one (possibly pretty-printed) object, or NDJSON.
fn read_events(mut reader: impl BufRead, sink: &mut Sink) -> Result<()> {
    let first = loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => {
                let b = buf[i];
                reader.consume(i);
                break b;
            }
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    };
    if first == b'[' {
        let mut text = String::new();
        reader
            .read_to_string(&mut text)
            .context("the input is not valid UTF-8")?;
        let values: Vec<Value> = serde_json::from_str(&text).map_err(|e| {
            Exit::failed(format!(
                "the input starts a JSON array but is not valid JSON: {e}"
            ))
        })?;
        for v in &values {
            let j = judge(v, sink.index, sink.now);
            sink.take(j)?;
        }
        return Ok(());
    }
    let mut line = String::new();
    let mut lines = reader.lines();
    if let Some(l) = lines.next() {
        line = l?;
    }
    // A first line that is not a whole JSON value may be the start of one pretty-printed event.
    if !is_one_json_value(&line) {
        let mut rest: Vec<String> = vec![line.clone()];
        for l in lines {
            rest.push(l?);
        }
        let whole = rest.join("\n");
        if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(&whole) {
            let j = judge(&v, sink.index, sink.now);
            return sink.take(j);
        }
        for l in rest.iter().filter(|l| !l.trim().is_empty()) {
            let j = judge_line(l, sink.index, sink.now);
            sink.take(j)?;
        }
        return Ok(());
    }
    let j = judge_line(&line, sink.index, sink.now);
    sink.take(j)?;
    for l in lines {
        let l = l?;
        if l.trim().is_empty() {
            continue;
        }
        let j = judge_line(&l, sink.index, sink.now);
        sink.take(j)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_ids_hold_every_inserted_hash_and_none_after_clearing() {
        let mut ids = WaitingIds::default();
        // A batch's worth of hashes of ids shaped like the generator's, past the bitmap's
        // comfortable load: a false "no" would split copies of an id across batches.
        let hashes: Vec<u64> = (0..200_000)
            .map(|i| keylens_event::dedup::id_hash(&format!("g1-{i}-0")))
            .collect();
        for &h in &hashes[..100_000] {
            ids.insert(h);
        }
        assert!(hashes[..100_000].iter().all(|&h| ids.contains(h)));
        let others = hashes[100_000..]
            .iter()
            .filter(|&&h| ids.contains(h))
            .count();
        assert_eq!(others, 0, "a hash never inserted is not held");
        // The bitmap answers for most of them without the set: 100,000 of 2^21 bits set.
        let maybe = hashes[100_000..]
            .iter()
            .filter(|&&h| {
                let (w, m) = WaitingIds::bit(h);
                ids.bits[w] & m != 0
            })
            .count();
        assert!(
            maybe < 7_000,
            "{maybe} of 100,000 absent hashes pass the bitmap"
        );
        ids.clear();
        assert!(hashes.iter().all(|&h| !ids.contains(h)));
        assert!(
            ids.bits.iter().all(|&w| w == 0),
            "the bitmap is cleared with the set"
        );
        ids.insert(hashes[7]);
        assert!(ids.contains(hashes[7]) && !ids.contains(hashes[8]));
    }
}
