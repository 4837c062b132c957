//! Synthetic PBS accounting logs, one file per day as the server writes them, for
//! tests and benchmarks: realistic E records (~550 bytes) and every odd form real
//! logs have — array jobs and their subjobs, reruns (R then E), a repeated E record,
//! jobs deleted in the queue (D, then E without start), records without etime, a job
//! id reused after the sequence wrapped, quoted values holding spaces and `key=`
//! text, and jobs whose records fall in two days' files. Deterministic for a seed.
//!
//! Alongside, the generator reports every job that should count, with its wait as
//! the model defines it (not as any parser reads it), so tests can check the
//! collector against an independent computation. Lines within a file are in
//! generation order, not time order (the collector does not care).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::generate::Rng;

/// Queues with their median wait (seconds) and share of jobs.
pub const QUEUES: [(&str, f64, f64); 4] =
    [("workq", 1800.0, 0.45), ("gpu_large", 14_400.0, 0.15), ("cpu", 300.0, 0.3), ("debug", 20.0, 0.1)];

/// What to write.
#[derive(Debug, Clone)]
pub struct Options {
    /// Stop once this many E and R records are written.
    pub end_records: u64,
    /// Submissions between these epoch seconds.
    pub first: i64,
    /// See `first`.
    pub last: i64,
    /// Same seed, same files.
    pub seed: u64,
    /// Compress every other day's file (`YYYYMMDD.gz`).
    pub gzip: bool,
    /// Also write each job's Q (queued) and S (started) records, as a server does.
    pub queued_and_started: bool,
}

/// A job that should count once, as the model made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    pub queue: &'static str,
    /// Its first run's start, epoch seconds.
    pub start: i64,
    /// That start minus etime (or qtime where the record has no etime).
    pub wait: u32,
    /// The record has no etime.
    pub from_qtime: bool,
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct Written {
    /// The day files, by name.
    pub files: Vec<PathBuf>,
    /// Lines written.
    pub lines: u64,
    /// E and R records written.
    pub end_records: u64,
    /// Jobs whose end record is in a later day's file than their start.
    pub across_days: u64,
    /// How many of each odd form.
    pub reruns: u64,
    /// See `reruns`.
    pub arrays: u64,
    /// See `reruns`.
    pub deleted: u64,
    /// See `reruns`.
    pub repeated_ends: u64,
    /// See `reruns`.
    pub reused_ids: u64,
}

enum Out {
    Plain(BufWriter<File>),
    Gzip(Box<flate2::write::GzEncoder<BufWriter<File>>>),
}

impl Out {
    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Self::Plain(w) => w,
            Self::Gzip(w) => w.as_mut(),
        }
    }

    fn finish(self) -> std::io::Result<()> {
        match self {
            Self::Plain(mut w) => w.flush(),
            Self::Gzip(w) => w.finish()?.flush(),
        }
    }
}

struct Days<'a> {
    dir: &'a Path,
    gzip: bool,
    open: HashMap<i64, Out>,
    names: Vec<(i64, PathBuf)>,
    lines: u64,
}

impl Days<'_> {
    fn write(&mut self, at: i64, kind: char, id: &str, attributes: &str) -> std::io::Result<()> {
        let day = at.div_euclid(86_400);
        if !self.open.contains_key(&day) {
            let date = chrono::DateTime::from_timestamp(day * 86_400, 0).unwrap_or_default();
            let gzip = self.gzip && day % 2 == 1;
            let name = self.dir.join(format!("{}{}", date.format("%Y%m%d"), if gzip { ".gz" } else { "" }));
            let file = BufWriter::with_capacity(64 << 10, File::create(&name)?);
            let out = if gzip {
                Out::Gzip(Box::new(flate2::write::GzEncoder::new(file, flate2::Compression::fast())))
            } else {
                Out::Plain(file)
            };
            self.names.push((day, name));
            self.open.insert(day, out);
        }
        let stamp = chrono::DateTime::from_timestamp(at, 0).unwrap_or_default().format("%m/%d/%Y %H:%M:%S");
        self.lines += 1;
        let out = self.open.get_mut(&day).map(Out::writer).ok_or(std::io::ErrorKind::NotFound)?;
        writeln!(out, "{stamp};{kind};{id};{attributes}")
    }
}

fn clock(seconds: i64) -> String {
    format!("{:02}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60)
}

/// One run's attributes in an E or R record.
struct Run<'a> {
    queue: &'a str,
    name: &'a str,
    ctime: i64,
    qtime: i64,
    etime: Option<i64>,
    start: i64,
    end: i64,
    count: u32,
}

impl Run<'_> {
    fn attributes(&self, rng: &mut Rng) -> String {
        let node = rng.next() % 512;
        let gpus = 1 + rng.next() % 8;
        let etime = self.etime.map(|e| format!(" etime={e}")).unwrap_or_default();
        let used = self.end - self.start;
        format!(
            "user=u{user} group=g{group} project=_pbs_project_default jobname={name} queue={queue} \
             ctime={ctime} qtime={qtime}{etime} start={start} exec_host=n{node:03}/0*{cpus} \
             exec_vnode=(n{node:03}:ncpus={cpus}:ngpus={gpus}) Resource_List.ncpus={cpus} \
             Resource_List.ngpus={gpus} Resource_List.nodect=1 Resource_List.place=free \
             Resource_List.select=1:ncpus={cpus}:ngpus={gpus} Resource_List.walltime=24:00:00 \
             session={session} end={end} Exit_status=0 resources_used.cpupercent=97 \
             resources_used.cput={cput} resources_used.mem={mem}kb resources_used.ncpus={cpus} \
             resources_used.vmem={vmem}kb resources_used.walltime={walltime} run_count={count}",
            user = rng.next() % 900,
            group = rng.next() % 40,
            name = self.name,
            queue = self.queue,
            ctime = self.ctime,
            qtime = self.qtime,
            start = self.start,
            cpus = gpus * 8,
            session = 1000 + rng.next() % 60_000,
            end = self.end,
            cput = clock(used * 8),
            mem = rng.next() % 100_000_000,
            vmem = rng.next() % 200_000_000,
            walltime = clock(used),
            count = self.count,
        )
    }
}

/// Writes day files into `dir`, calling `counted` for every job that should count.
pub fn write_days(dir: &Path, options: &Options, mut counted: impl FnMut(Counted)) -> std::io::Result<Written> {
    let mut rng = Rng(options.seed.max(1));
    let mut days = Days { dir, gzip: options.gzip, open: HashMap::new(), names: Vec::new(), lines: 0 };
    let mut written = Written::default();
    let span = (options.last - options.first).max(1) as f64;
    let mut sequence = 100_000u64;
    let server = "pbs01.hpc.example";
    while written.end_records < options.end_records {
        let pick = rng.unit();
        let mut acc = 0.0;
        let (queue, median, _) = QUEUES
            .iter()
            .find(|(_, _, share)| {
                acc += share;
                pick < acc
            })
            .copied()
            .unwrap_or(QUEUES[0]);
        let wait = |rng: &mut Rng| (-(1.0 - rng.unit()).ln() * median / std::f64::consts::LN_2) as i64;
        let form = rng.unit();
        let reused = (0.120..0.121).contains(&form);
        if !reused {
            sequence += 1;
        } else {
            written.reused_ids += 1;
        }
        let id = format!("{sequence}.{server}");
        let qtime = options.first + (rng.unit() * span) as i64;
        let ctime = qtime - (rng.next() % 5) as i64;
        let held = rng.unit() < 0.1;
        let no_etime = (0.11..0.12).contains(&form);
        let etime = if no_etime { None } else { Some(qtime + if held { (rng.unit() * 3600.0) as i64 } else { 0 }) };
        let origin = etime.unwrap_or(qtime);
        let name = if (0.121..0.13).contains(&form) { "\"fake start=1 queue=debug\"" } else { "train" };
        let queued = |days: &mut Days<'_>, id: &str| -> std::io::Result<()> {
            if options.queued_and_started {
                days.write(qtime, 'Q', id, &format!("queue={queue}"))?;
            }
            Ok(())
        };
        let started = |days: &mut Days<'_>, rng: &mut Rng, run: &Run<'_>, id: &str| -> std::io::Result<()> {
            if options.queued_and_started {
                let attributes = run.attributes(rng);
                let before_end = attributes.split(" session=").next().unwrap_or_default();
                days.write(run.start, 'S', id, before_end)?;
            }
            Ok(())
        };
        let runtime = |rng: &mut Rng| 60 + (rng.unit() * 86_400.0) as i64;
        if form < 0.03 {
            // Deleted in the queue: D, then E without start.
            written.deleted += 1;
            queued(&mut days, &id)?;
            let gone = qtime + 60 + (rng.next() % 7200) as i64;
            days.write(gone, 'D', &id, "requestor=ana@login1.hpc.example")?;
            let attributes = format!(
                "user=u1 group=g1 jobname=train queue={queue} ctime={ctime} qtime={qtime} etime={origin} \
                 Exit_status=-4 resources_used.walltime=00:00:00 run_count=0"
            );
            days.write(gone + 1, 'E', &id, &attributes)?;
            written.end_records += 1;
        } else if form < 0.08 {
            // An array job: subjobs count, the array as a whole does not.
            written.arrays += 1;
            let parent = format!("{sequence}[].{server}");
            queued(&mut days, &parent)?;
            let subjobs = 2 + rng.next() % 4;
            let (mut first_start, mut last_end) = (i64::MAX, 0);
            for k in 1..=subjobs {
                let start = origin + wait(&mut rng);
                let end = start + runtime(&mut rng);
                let sub = format!("{sequence}[{k}].{server}");
                let run = Run { queue, name, ctime, qtime, etime, start, end, count: 1 };
                started(&mut days, &mut rng, &run, &sub)?;
                days.write(end, 'E', &sub, &run.attributes(&mut rng))?;
                written.end_records += 1;
                written.across_days += u64::from(start.div_euclid(86_400) != end.div_euclid(86_400));
                counted(Counted { queue, start, wait: (start - origin) as u32, from_qtime: etime.is_none() });
                first_start = first_start.min(start);
                last_end = last_end.max(end);
            }
            let run = Run { queue, name, ctime, qtime, etime, start: first_start, end: last_end, count: 1 };
            days.write(last_end, 'E', &parent, &run.attributes(&mut rng))?;
            written.end_records += 1;
        } else if form < 0.10 {
            // Rerun: the first run ends with an R record, the second with E. The E record
            // keeps qtime and (half the time) the original etime.
            written.reruns += 1;
            queued(&mut days, &id)?;
            let start = origin + wait(&mut rng);
            let end = start + runtime(&mut rng);
            let first = Run { queue, name, ctime, qtime, etime, start, end, count: 1 };
            started(&mut days, &mut rng, &first, &id)?;
            days.write(end, 'R', &id, &first.attributes(&mut rng))?;
            let requeued = if rng.unit() < 0.5 { etime } else { etime.map(|_| end) };
            let again = end + wait(&mut rng);
            let second = Run { etime: requeued, start: again, end: again + runtime(&mut rng), count: 2, ..first };
            started(&mut days, &mut rng, &second, &id)?;
            days.write(second.end, 'E', &id, &second.attributes(&mut rng))?;
            written.end_records += 2;
            written.across_days += u64::from(start.div_euclid(86_400) != second.end.div_euclid(86_400));
            counted(Counted { queue, start, wait: (start - origin) as u32, from_qtime: etime.is_none() });
        } else {
            queued(&mut days, &id)?;
            let start = origin + wait(&mut rng);
            let end = start + runtime(&mut rng);
            let run = Run { queue, name, ctime, qtime, etime, start, end, count: 1 };
            started(&mut days, &mut rng, &run, &id)?;
            let attributes = run.attributes(&mut rng);
            days.write(end, 'E', &id, &attributes)?;
            written.end_records += 1;
            written.across_days += u64::from(start.div_euclid(86_400) != end.div_euclid(86_400));
            if form < 0.11 {
                // The server wrote the same E record again after a restart, the next day.
                written.repeated_ends += 1;
                days.write(end + 86_400, 'E', &id, &attributes)?;
                written.end_records += 1;
            }
            counted(Counted { queue, start, wait: (start - origin) as u32, from_qtime: etime.is_none() });
        }
    }
    for (_, out) in days.open.drain() {
        out.finish()?;
    }
    days.names.sort();
    written.files = days.names.into_iter().map(|(_, name)| name).collect();
    written.lines = days.lines;
    Ok(written)
}
