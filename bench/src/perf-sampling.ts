/**
 * `profile ... --perf`: Linux perf samples the server's CPU time in every thread it has (V8's
 * compiler and collector threads, libuv's pool) and in the kernel, which `--cpu-prof` (the main
 * thread's JavaScript) and `count` (one thread's user-space instructions) leave out. perf starts
 * the server with sampling off and samples only while the measured load runs; `--perf-basic-prof`
 * names the JIT's code. It uses the `cpu-clock` software event, so it needs no hardware counters
 * (which shared virtual machines often lack), only `perf` (Debian's linux-perf) and root or
 * `kernel.perf_event_paranoid` <= 1.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ownerOf } from './owners.js';

const SAMPLES_PER_SECOND = 4999;

export interface PerfSampling {
  /** The command the server's Node runs under (see `Launch.launcher`). */
  readonly launcher: readonly string[];
  readonly nodeArgs: readonly string[];
  /** The recording, \`perf.data\`. */
  readonly data: string;
  /** Turns sampling on or off, once perf says it has. */
  enable(): void;
  disable(): void;
  /** Prints CPU µs per request by thread and by whose code ran, from the samples; call after the server exited. */
  report(requests: number, top: number): void;
  remove(): void;
}

export function perfSampling(): PerfSampling {
  const probe = spawnSync('perf', ['--version'], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error('--perf needs Linux perf: apt-get install linux-perf');
  const dir = mkdtempSync(join(tmpdir(), 'sess-perf-'));
  const control = join(dir, 'control');
  const ack = join(dir, 'ack');
  const data = join(dir, 'perf.data');
  execFileSync('mkfifo', [control, ack]);
  let maps: string[] = [];
  let controlFd: number | undefined;
  let ackFd: number | undefined;

  /** Sends a command and blocks until perf acknowledges it, so no sample is missed or taken early. */
  function command(text: 'enable' | 'disable'): void {
    // perf opens both fifos at start; opening them here blocks until it has, so open them lazily.
    controlFd ??= openSync(control, 'w');
    ackFd ??= openSync(ack, 'r');
    writeSync(controlFd, `${text}\n`);
    const reply = Buffer.alloc(16);
    const read = readSync(ackFd, reply, 0, reply.length, null);
    if (!reply.subarray(0, read).toString().startsWith('ack')) throw new Error(`perf did not acknowledge ${text}`);
  }

  return {
    launcher: [
      'perf',
      'record',
      '-g',
      '-e',
      'cpu-clock',
      '-F',
      String(SAMPLES_PER_SECOND),
      '-D',
      '-1',
      '--control',
      `fifo:${control},${ack}`,
      '-q',
      '-o',
      data,
      '--',
    ],
    // V8 also writes a log of code events with the map: into the temporary folder, not the working one.
    nodeArgs: ['--perf-basic-prof', '--interpreted-frames-native-stack', `--logfile=${join(dir, 'v8.log')}`, '--no-logfile-per-isolate'],
    data,
    enable: () => command('enable'),
    disable: () => command('disable'),
    report(requests, top) {
      for (const fd of [controlFd, ackFd]) if (fd !== undefined) closeSync(fd);
      const script = execFileSync('perf', ['script', '-i', data, '-F', 'pid,tid,ip,sym,dso'], {
        encoding: 'utf8',
        maxBuffer: 1 << 30,
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      printSamples(parseSamples(script), requests, top);
      maps = [...new Set(script.match(/\/tmp\/perf-\d+\.map/g))];
    },
    remove() {
      // With the recording goes V8's map of the JIT's code (a few MB a server), which V8 never removes.
      for (const path of [dir, ...maps]) rmSync(path, { recursive: true, force: true });
    },
  };
}

interface Sample {
  readonly mainThread: boolean;
  /** Whose code the sample landed in (see `ownerOfFrame`). */
  readonly owner: string;
  readonly symbol: string;
  /** The package of the innermost JavaScript on the stack: whose code asked for the work (V8's runtime, a builtin, a system call). */
  readonly cause: string;
  /** The same, past Node's own JavaScript: the package that called into Node's \`http\` and streams. */
  readonly caller: string;
  /** The innermost JavaScript function on the stack, with its file. */
  readonly script: string;
}

const JIT_FRAME = /\.map$/;
const NO_SCRIPT = 'no JavaScript on the stack';
const NODE_SCRIPT = `JavaScript: ${ownerOf('node:internal')}`;
const ENGINE_SCRIPT = `JavaScript: ${ownerOf('')}`;

/**
 * Names for JIT code, from V8's `/tmp/perf-<pid>.map`. V8 appends a line for each piece of code it
 * makes and never takes one out, so once freed code's memory is reused (start-up code, flushed
 * bytecode trampolines) an address has several lines. perf takes the first; the last one written
 * is the code that lived there last, which is what ran in the measured window after warm-up.
 */
class JitNames {
  /** Non-overlapping, by address. */
  private readonly ranges: { start: number; end: number; name: string }[] = [];

  constructor(mapFile: string) {
    const entries = readFileSync(mapFile, 'utf8')
      .split('\n')
      .flatMap((line) => {
        const entry = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line);
        if (entry === null) return [];
        const start = Number.parseInt(entry[1] as string, 16);
        return [{ start, end: start + Number.parseInt(entry[2] as string, 16), name: entry[3] as string }];
      });
    // Painted in write order onto the ranges: later lines cover earlier ones.
    const painted = this.ranges;
    for (const entry of entries) {
      const at = this.firstEndingAfter(painted, entry.start);
      const covered = painted.splice(at, this.firstStartingAtOrAfter(painted, entry.end) - at, entry);
      const first = covered[0];
      const last = covered[covered.length - 1];
      let after = at + 1;
      if (first !== undefined && first.start < entry.start) {
        painted.splice(at, 0, { ...first, end: entry.start });
        after += 1;
      }
      if (last !== undefined && last.end > entry.end) painted.splice(after, 0, { ...last, start: entry.end });
    }
  }

  private firstEndingAfter(ranges: readonly { end: number }[], address: number): number {
    let low = 0;
    let high = ranges.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((ranges[mid] as { end: number }).end <= address) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  private firstStartingAtOrAfter(ranges: readonly { start: number }[], address: number): number {
    let low = 0;
    let high = ranges.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((ranges[mid] as { start: number }).start < address) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** The name of the code at `address`, or `undefined` if no line covers it. */
  nameAt(address: number): string | undefined {
    const range = this.ranges[this.firstEndingAfter(this.ranges, address)];
    return range !== undefined && range.start <= address ? range.name : undefined;
  }
}

/**
 * Samples from `perf script -F pid,tid,ip,sym,dso` over a recording with call chains: a
 * `pid/tid` line, then one `address symbol (dso)` line per frame from the innermost, then a
 * blank line. JIT frames are named again from V8's map (see `JitNames`).
 */
function parseSamples(script: string): Sample[] {
  const samples: Sample[] = [];
  const jitNames = new Map<string, JitNames>();
  for (const block of script.split('\n\n')) {
    const [header = '', ...lines] = block.split('\n').filter((line) => line.trim() !== '');
    const ids = /^\s*(\d+)\/(\d+)/.exec(header);
    if (ids === null) continue;
    const frames = lines.flatMap((line) => {
      const frame = /^\s*([0-9a-f]+)\s+(.*?)\s+\((.*)\)\s*$/.exec(line);
      if (frame === null) return [];
      const dso = frame[3] ?? '';
      if (!JIT_FRAME.test(dso)) return [{ symbol: frame[2] ?? '[unknown]', dso }];
      let names = jitNames.get(dso);
      if (names === undefined) jitNames.set(dso, (names = new JitNames(dso)));
      return [{ symbol: names.nameAt(Number.parseInt(frame[1] as string, 16)) ?? '[unknown JIT code]', dso }];
    });
    const leaf = frames[0] ?? { symbol: '[unknown]', dso: '' };
    const scripts = frames
      .filter((frame) => JIT_FRAME.test(frame.dso) && frame.symbol.startsWith('JS:'))
      .map((frame) => ownerOfFrame(frame.symbol, frame.dso));
    const packageFrame = scripts.find((owner) => owner !== NODE_SCRIPT && owner !== ENGINE_SCRIPT);
    const owner = ownerOfFrame(leaf.symbol, leaf.dso);
    const innermost = frames.find((frame) => JIT_FRAME.test(frame.dso) && frame.symbol.startsWith('JS:'));
    samples.push({
      mainThread: ids[1] === ids[2],
      owner: owner === 'kernel' ? `kernel: ${kernelWork(frames)}` : owner,
      symbol: `${leaf.symbol} (${leaf.dso.split('/').pop()})`,
      cause: scripts[0] ?? NO_SCRIPT,
      caller: packageFrame ?? (scripts.length === 0 ? NO_SCRIPT : "Node's own JavaScript, no package above it"),
      script:
        innermost === undefined
          ? NO_SCRIPT
          : innermost.symbol.replace(/^JS:[*~^+-]?/, '').replace(/file:\/\/\S*?\/(node_modules|packages)\//, ''),
    });
  }
  return samples;
}

/**
 * What the kernel was doing for the process: a system call, a page fault, or network work in a
 * softirq. On loopback that last is the delivery of the server's own answer to the client's
 * socket, with the wake-up of the client, run on the server's core (its stack ends at the softirq,
 * so the system call that sent the answer is not on it).
 */
function kernelWork(frames: readonly { readonly symbol: string }[]): string {
  if (frames.some(({ symbol }) => symbol === 'net_rx_action' || symbol === 'process_backlog'))
    return 'loopback delivery to the client (softirq)';
  for (const { symbol } of frames) {
    const call = /^__(?:x64|ia32)_sys_(\w+)/.exec(symbol);
    if (call !== null) return `system call ${call[1]}`;
    if (symbol.includes('exc_page_fault')) return 'page faults';
  }
  return frames.some(({ symbol }) => /sysvec_|irq/.test(symbol)) ? 'other interrupts' : 'other';
}

/** Whose code a frame is: the package of JIT-compiled JavaScript, or the part of Node's binary, libc, the kernel. */
function ownerOfFrame(symbol: string, dso: string): string {
  if (dso.startsWith('[kernel') || symbol.startsWith('[k')) return 'kernel';
  if (JIT_FRAME.test(dso)) {
    // `JS:*name file:///path:line:column` (optimised) or `JS:~name node:internal/...` (interpreted).
    const url = /\s(\S+?)(?::\d+)*$/.exec(symbol)?.[1]?.replace(/^file:\/\//, '') ?? '';
    return `JavaScript: ${ownerOf(url)}`;
  }
  if (/libc\.so|ld-linux/.test(dso)) return 'libc';
  if (!dso.endsWith('/node') && dso !== 'node') return dso.split('/').pop() ?? dso;
  if (symbol.startsWith('Builtins_')) return 'V8 builtins (property access stubs, strings, promises)';
  if (/Heap|Scaveng|MarkCompact|Marking|Sweep|Evacuat|Collector|Remembered|SlotSet|Compactor/.test(symbol)) return 'V8 garbage collector';
  if (/Compil|Turbofan|Maglev|compiler::|Parser|Bytecode|Deoptimiz/.test(symbol)) return 'V8 compiler';
  if (symbol.startsWith('v8::')) return 'V8 runtime (C++)';
  if (/^(node::|uv_|uv__|llhttp)/.test(symbol)) return 'Node C++, libuv, llhttp';
  if (/^(EVP_|HMAC|SHA|sha|ossl_|OPENSSL|CRYPTO_|RAND_|aes|gcm)/.test(symbol)) return 'OpenSSL';
  return 'node binary (other)';
}

function printSamples(samples: readonly Sample[], requests: number, top: number): void {
  const microsPerSample = 1e6 / SAMPLES_PER_SECOND;
  const perRequest = (count: number) => ((count * microsPerSample) / requests).toFixed(2).padStart(8);
  const tally = (key: (sample: Sample) => string) => {
    const counts = new Map<string, number>();
    for (const sample of samples) counts.set(key(sample), (counts.get(key(sample)) ?? 0) + 1);
    return [...counts].sort((a, b) => b[1] - a[1]);
  };
  const main = samples.filter((sample) => sample.mainThread).length;
  console.log(
    `perf: ${samples.length} samples over ${requests} requests: ${perRequest(samples.length)} µs CPU/req, main thread ${perRequest(main)}, other threads ${perRequest(samples.length - main)}`,
  );
  console.log('\nCPU µs per request by whose code ran (main thread + other threads)');
  for (const [owner, count] of tally((sample) => sample.owner)) {
    const inMain = samples.filter((sample) => sample.owner === owner && sample.mainThread).length;
    console.log(`${perRequest(count)}  (${perRequest(inMain).trim()} + ${perRequest(count - inMain).trim()})  ${owner}`);
  }
  console.log('\nCPU µs per request by the JavaScript on whose behalf it ran (innermost JavaScript frame on the stack)');
  for (const [cause, count] of tally((sample) => sample.cause)) console.log(`${perRequest(count)}  ${cause}`);
  console.log("\nThe same, with Node's own JavaScript counted to the package that called it (innermost package frame)");
  for (const [caller, count] of tally((sample) => sample.caller)) console.log(`${perRequest(count)}  ${caller}`);
  console.log(`\nCPU µs per request by the innermost JavaScript function on the stack (top ${top})`);
  for (const [script, count] of tally((sample) => sample.script).slice(0, top)) console.log(`${perRequest(count)}  ${script}`);
  console.log(`\nCPU µs per request by symbol (top ${top}, all threads)`);
  for (const [symbol, count] of tally((sample) => sample.symbol).slice(0, top)) console.log(`${perRequest(count)}  ${symbol}`);
}
