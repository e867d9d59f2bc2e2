// Types shared by every entry point; none of them depends on `stripe`, so the
// CommonJS and ES module faces each bind them to their own `stripe` types.

/** STRIPE_VCR_RECORD. */
export type RecordMode = 'none' | 'once' | 'new_episodes' | 'all';

/** One running proxy. */
export interface ProxyInfo {
  /** `https://127.0.0.1:PORT` (the same port also serves plain HTTP and CONNECT). */
  url: string;
  port: number;
  /** Path of the CA certificate (PEM) the proxy's certificates are signed with. */
  ca: string;
}

/** Where the binary was found. */
export interface BinaryInfo {
  path: string;
  source: 'STRIPE_VCR_BIN' | 'package' | 'PATH' | 'option';
  /** The platform package, when source is 'package'. */
  package?: string;
}

/** What test workers need to join a run (JSON; passed in STRIPE_VCR_RUNTIME or Vitest's provide). */
export interface Runtime {
  version: 1;
  record: RecordMode;
  cassettes: string;
  stateDir: string;
  binary: BinaryInfo;
  proxies: { replay?: ProxyInfo; record?: ProxyInfo };
}

/** Settings of a run; each defaults to its environment variable. */
export interface RunOptions {
  /** STRIPE_VCR_RECORD, default 'none'. */
  record?: RecordMode;
  /** STRIPE_VCR_CASSETTES, default `<cwd>/cassettes`. */
  cassettes?: string;
  /** STRIPE_VCR_UPSTREAM, default https://api.stripe.com (record, once, new_episodes). */
  upstream?: string;
  /** STRIPE_VCR_UPSTREAM_CA: an extra CA (PEM file) for the upstream. */
  upstreamCa?: string;
  /** The stripe-vcr binary (default: STRIPE_VCR_BIN, the platform package, PATH). */
  binary?: string;
  /** More arguments for the proxies (e.g. ['--validate', 'strict']). */
  proxyArgs?: string[];
  /** STRIPE_VCR_LOG: a file the proxies' logs are appended to. */
  log?: string;
}

export interface StripeVcrOptions<StripeClass> extends RunOptions {
  /** A run to join (default: STRIPE_VCR_RUNTIME, set by the Jest global setup). */
  runtime?: Runtime;
  /** The test file set names start from (node:test; Jest and Vitest know it). */
  testFile?: string;
  /** The API key of stripe() clients (default: STRIPE_API_KEY, else a placeholder test key; replay accepts any). */
  apiKey?: string;
  /** The Stripe class to build clients with (default: the `stripe` package). */
  Stripe?: StripeClass;
  /** Loads the Stripe class (default: imports `stripe`). */
  loadStripe?: () => Promise<StripeClass>;
}

/** One replay miss: the message the client got, naming the closest recording. */
export interface Miss {
  seq: number;
  set: string;
  message: string;
}

/** What a run reports when it stops. */
export interface Report {
  record: RecordMode;
  binary: BinaryInfo;
  /** The sets the run's tests used. */
  sets: string[];
  /** Cassettes of those sets never served (relative to the cassette directory). */
  unused: string[];
  /** Each proxy's `stripe-vcr summary:` line. */
  summaries: { proxy: 'replay' | 'record'; line: string | null }[];
  /** A proxy that exited with an error, an unreachable admin endpoint. */
  problems: string[];
}

/** The proxies of one test run. */
export interface Run {
  runtime: Runtime;
  stop(): Promise<Report>;
}

/** What `stripeConfig()` returns: spread it into `new Stripe(key, {...})`. */
export interface VcrStripeConfig<HttpClient> {
  host: string;
  port: number;
  protocol: 'https';
  httpClient: HttpClient;
}

/** A test file's handle on stripe-vcr (`Client`: a Stripe instance, `Config`: its options). */
export interface StripeVcrHandle<Client, Config extends { httpClient?: unknown }> {
  /** Joins a run (default: the one handed down), or starts one of its own. */
  start(runtime?: Runtime): Promise<void>;
  readonly started: boolean;
  readonly record: RecordMode;
  readonly cassettes: string;
  /** The current test's set; undefined between tests. */
  readonly set: string | undefined;
  /** The proxy the current test talks to. */
  readonly proxy: ProxyInfo;
  /** The set a test of this name gets. */
  setNameFor(name: string, file?: string): string;
  /** Begins a test; resolves to its set. */
  useTest(name: string, options?: { file?: string; set?: string }): Promise<string>;
  /** Ends the test; rejects with a StripeVcrMissError if it missed. */
  check(): Promise<void>;
  /** Stops what this handle started; the run's report if it started its own. */
  stop(): Promise<Report | undefined>;
  /** stop(), print the report, throw if a proxy failed. */
  finish(write?: (text: string) => void): Promise<Report | undefined>;
  /** A Stripe client for the current test (or, made outside a test, for whichever test runs). */
  stripe(options?: { apiKey?: string; set?: string } & Omit<Config, 'host' | 'port' | 'protocol' | 'httpClient'>): Client;
  /** The options that point a Stripe client at the proxy, for a client of your own. */
  stripeConfig(options?: { set?: string }): VcrStripeConfig<NonNullable<Config['httpClient']>>;
  /** `{ 'Stripe-Vcr-Cassette': set }` for the current test. */
  headers(): Record<string, string>;
}

export declare const RECORD_MODES: readonly RecordMode[];
export declare const RUNTIME_ENV: 'STRIPE_VCR_RUNTIME';
export declare const PLATFORMS: readonly string[];

export declare class StripeVcrMissError extends Error {
  readonly set: string;
  readonly misses: Miss[];
}
export declare class StripeVcrSetCollisionError extends Error {
  readonly set: string;
}

/** Starts the proxies of a run (what the global setups do). */
export declare function startRun(options?: RunOptions): Promise<Run>;
export declare function readConfig(
  options?: RunOptions,
  env?: Record<string, string | undefined>,
): Required<Pick<RunOptions, 'record' | 'upstream' | 'cassettes' | 'proxyArgs'>> & RunOptions;
export declare function runtimeFromEnv(env?: Record<string, string | undefined>): Runtime | undefined;
export declare function formatReport(report: Report): string;
export declare function reportOrThrow(report: Report, write?: (text: string) => void): void;
/** The sets claimed in a run's state directory: by a test, or by a client that named its set. */
export declare function usedSets(
  stateDir: string,
): { set: string; file?: string; test?: string; explicit?: boolean; route: 'replay' | 'record' }[];
export declare function resolveBinary(options?: {
  env?: Record<string, string | undefined>;
  platform?: string;
  arch?: string;
  searchFrom?: string[];
}): BinaryInfo;
export declare function platformPackageName(platform?: string, arch?: string): string;
/** The set of a test: see README, "How a test's cassette set is named". */
export declare function setNameFor(file: string | undefined, testName: string, cwd?: string): string;
export declare function sanitizeSegment(segment: string): string;
export declare function fullTestName(titles: string[]): string;
