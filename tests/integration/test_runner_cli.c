#define _GNU_SOURCE
/* test_runner_cli.c: every rbench subcommand given each kind of bad argument exits with its
 * documented status and an error naming the problem, never by a signal (the suite also runs
 * under ASan+UBSan, where a memory error in these early-exit paths fails the case). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runner_common.h"

static struct rbt_proc redis;
static char envfile[160], downenv[160], valid[160];

static void path_in_tmp(char *out, size_t len, const char *name) {
  snprintf(out, len, "%s/%s", tmpdir, name);
}

static void write_in_tmp(const char *name, const char *text) {
  char p[200];
  path_in_tmp(p, sizeof p, name);
  write_text(p, text);
}

static int setup(void **state) {
  (void)state;
  tmpdir_make();
  setenv("WSK_CONFIG_FILE", "", 1); /* no ~/.wskprops: "no OpenWhisk API host" is what it says */
  char p[200], text[256];
  path_in_tmp(p, sizeof p, "empty");
  mkdir(p, 0755);
  path_in_tmp(p, sizeof p, "nojson");
  mkdir(p, 0755);
  write_in_tmp("nojson/notes.txt", "not a results file\n");
  write_in_tmp("bad.json", "not json\n");
  write_in_tmp("notres.json", "{\"a\": 1}\n");
  write_in_tmp("emptyf.json", "");
  write_in_tmp("notyaml.yaml", "name: [unclosed\n");
  write_in_tmp("dup.yaml", "name: dup\nruns:\n  - name: a\n    rate: 20\n    rate: 40\n");
  write_in_tmp("locked.json", "{}\n");
  write_in_tmp("noname.yaml", "name: noname\nruns:\n  - rate: 20\n");
  char longname[400] = "name: ";
  memset(longname + 6, 'n', 300);
  snprintf(longname + 306, sizeof longname - 306, "\nruns:\n  - name: a\n");
  write_in_tmp("longname.yaml", longname);
  write_in_tmp("dupkey.env", "REDIS_PORT=6379\nREDIS_HOST=127.0.0.1\nexport REDIS_PORT=6380\n");
  path_in_tmp(p, sizeof p, "sub");
  mkdir(p, 0755);
  write_in_tmp("sub/missing-env.yaml",
               "name: m\ntarget:\n  env_file: nosuch.env\nruns:\n  - name: a\n");
  path_in_tmp(p, sizeof p, "locked.json");
  chmod(p, 0);
  if (!rbt_redis_start(&redis, NULL)) return -1;
  path_in_tmp(envfile, sizeof envfile, "local.env");
  snprintf(text, sizeof text, "REDIS_HOST=127.0.0.1\nREDIS_PORT=%d\n", redis.port);
  write_text(envfile, text);
  path_in_tmp(downenv, sizeof downenv, "down.env");
  snprintf(text, sizeof text, "REDIS_HOST=127.0.0.1\nREDIS_PORT=%d\n", rbt_free_port());
  write_text(downenv, text);
  /* One real results document, for the cases where only the other side is bad. */
  path_in_tmp(valid, sizeof valid, "valid.json");
  char *argv[] = {NULL, "run",      "--env", envfile,      "--rate", "50", "--invocations",
                  "4",  "--output", valid,   "--progress", "off",    NULL};
  return run_rbench(argv, NULL, 60000, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  rbt_proc_stop(&redis, SIGTERM);
  unlink(redis.log);
  tmpdir_remove();
  return 0;
}

/* Replaces each '@' in s by the temporary directory. */
static void expand_tmp(const char *s, char *out, size_t len) {
  size_t n = 0;
  for (; *s && n + 1 < len; s++) {
    if (*s == '@') n += (size_t)snprintf(out + n, len - n, "%s", tmpdir);
    else out[n++] = *s;
    if (n >= len) n = len - 1;
  }
  out[n] = '\0';
}

struct cli_case {
  const char *args;   /* space-separated; '@' is the temporary directory */
  int exit_status;    /* as documented in docs/runner.md */
  const char *expect; /* in stderr+stdout; '@' is the temporary directory */
};

/* Runs one case; returns false (and says why) when it does not behave as documented. */
static bool run_case(const struct cli_case *c) {
  char args[1024], expect[512];
  expand_tmp(c->args, args, sizeof args);
  expand_tmp(c->expect, expect, sizeof expect);
  char *argv[32] = {NULL};
  int argc = 1;
  for (char *save = NULL, *tok = strtok_r(args, " ", &save); tok && argc < 31;
       tok = strtok_r(NULL, " ", &save))
    argv[argc++] = tok;
  char *log = NULL;
  int rc = run_rbench(argv, NULL, 30000, &log);
  bool ok = rc == c->exit_status && log && strstr(log, expect) && !strstr(log, "Sanitizer") &&
            !strstr(log, "runtime error");
  if (!ok)
    fprintf(stderr, "case 'rbench %s': exit %d (want %d), want \"%s\" in:\n%s\n", c->args, rc,
            c->exit_status, expect, log ? log : "(no output)");
  free(log);
  return ok;
}

static void run_cases(const struct cli_case *cases, size_t n) {
  size_t failed = 0;
  for (size_t i = 0; i < n; i++) failed += !run_case(&cases[i]);
  assert_int_equal(failed, 0);
}

static void test_top_level(void **state) {
  (void)state;
  static const struct cli_case cases[] = {
      {"", 2, "Usage: rbench COMMAND"},
      {"bogus", 2, "unknown command 'bogus'"},
      {"--version", 0, "rbench "},
      {"--help", 0, "Usage: rbench COMMAND"},
      {"run --help", 0, "Usage: rbench run"},
      {"compare --help", 0, "Usage: rbench compare"},
      {"report --help", 0, "Usage: rbench report"},
      {"doctor --help", 0, "Usage: rbench doctor"},
      {"--bogus", 2, "unknown option '--bogus'"}, /* run is the default subcommand */
  };
  run_cases(cases, sizeof cases / sizeof cases[0]);
}

static void test_run_bad_arguments(void **state) {
  (void)state;
  static const struct cli_case cases[] = {
      {"run --rate", 2, "option '--rate' needs a value"},
      {"run -f", 2, "option '-f' needs a value"},
      {"run --bogus", 2, "unknown option '--bogus'"},
      {"run -q", 2, "unknown option '-q'"},
      {"run stray", 2, "unexpected argument 'stray'"},
      {"run --rate x", 2, "--rate: rate: expected a number"},
      {"run --repetitions 0", 2, "--repetitions expects an 1..1000 integer"},
      {"run --target cloud", 2, "--target must be local or openwhisk"},
      {"run --wait-for-action -1", 2,
       "--wait-for-action expects seconds from 0 to 86400, got '-1'"},
      {"run --wait-for-action 5s", 2,
       "--wait-for-action expects seconds from 0 to 86400, got '5s'"},
      {"run --target openwhisk --env @/down.env --wait-for-action 5", 2, "no OpenWhisk API host"},
      {"run -f @/nosuch.yaml", 2, "cannot read scenario @/nosuch.yaml: no such file"},
      {"run -f @/empty", 2, "cannot read scenario @/empty: is a directory"},
      {"run -f /proc/self/mem", 2, "cannot read scenario /proc/self/mem: Input/output error"},
      {"run -f @/emptyf.json", 2, "@/emptyf.json: empty scenario"},
      {"run -f @/notyaml.yaml", 2, "@/notyaml.yaml:2:1:"},
      {"run -f @/dup.yaml", 2,
       "@/dup.yaml:5:5: duplicate key 'rate' (first given at line 4, column 5)"},
      {"run -f @/notres.json", 2, "@/notres.json:1:2: unknown key 'a'"},
      {"run --env @/nosuch.env", 2, "cannot read env file @/nosuch.env: no such file"},
      {"run --env @/local.env --duration 0", 2,
       "--duration: duration: expected a number of seconds above 0 and at most 864000, got '0'"},
      {"run --action pkg/a#b", 2,
       "--action: action 'pkg/a#b': 'a#b' is not an OpenWhisk name (1 to 256 bytes: a "
       "letter, digit or '_' first, then letters, digits, '_', "}, /* '@' is tmpdir here */
      {"run --action a/b/c", 2,
       "--action: action 'a/b/c': expected [pkg/]name or /namespace/[pkg/]name"},
      {"run -f @/noname.yaml", 2,
       "@/noname.yaml:3:5: runs[0]: missing required key 'name' (it names the run's "
       "results file)"},
      {"run -f @/longname.yaml", 2, "@/longname.yaml:1:7: name: too long: 300 bytes, at most 63"},
      {"run --env @/dupkey.env", 2,
       "@/dupkey.env:3: REDIS_PORT is set twice (first at @/dupkey.env:1); keep one"},
      {"run -f @/sub/missing-env.yaml", 2,
       "@/sub/missing-env.yaml:3:13: target.env_file: cannot read env file @/sub/nosuch.env: no "
       "such file"},
      {"run --env @/empty", 2, "cannot read env file @/empty: is a directory"},
      {"run --env @/bad.json", 2, "line 1: expected KEY=VALUE"},
      {"run --env @/down.env --action-bin @/nosuch", 2, "looked at @/nosuch: no such file"},
      {"run --env @/down.env --action-bin @/empty", 2, "looked at @/empty: is a directory"},
      {"run --env @/down.env --action-bin @/bad.json", 2, "looked at @/bad.json: not executable"},
      {"run --env @/down.env --invocations 2 --output @/x.json", 3, "cannot connect"},
  };
  run_cases(cases, sizeof cases / sizeof cases[0]);
}

static void test_compare_bad_arguments(void **state) {
  (void)state;
  static const struct cli_case cases[] = {
      /* Each of these once died with SIGSEGV or abort(). */
      {"compare @/empty @/valid.json", 1, "@/empty: a directory without results files (*.json)"},
      {"compare @/nojson @/valid.json", 1, "@/nojson: a directory without results files"},
      {"compare @/empty @/empty", 1, "@/empty: a directory without results files"},
      {"compare @/valid.json @/empty", 1, "@/empty: a directory without results files"},
      {"compare @/valid.json,@/empty @/valid.json", 1, "@/empty: a directory without results"},
      {"compare @/nosuch.json @/valid.json", 1, "cannot read @/nosuch.json: no such file"},
      {"compare @/valid.json @/nosuch.json", 1, "cannot read @/nosuch.json: no such file"},
      {"compare /proc/self/mem @/valid.json", 1, "cannot read /proc/self/mem: Input/output"},
      {"compare @/bad.json @/valid.json", 1, "@/bad.json: not a results document: malformed JSON"},
      {"compare @/emptyf.json @/valid.json", 1, "@/emptyf.json: empty file, not a results"},
      {"compare @/valid.json @/notres.json", 1, "@/notres.json: not an rbench results document"},
      {"compare @/valid.json", 2, "expected two to 32 groups (G1 G2 ...), got 1"},
      {"compare @/valid.json @/valid.json @/valid.json", 0, "groups: 3, baseline [1]"},
      {"compare @/valid.json @/valid.json --baseline 3", 2, "--baseline 3: no such group"},
      {"compare @/valid.json @/valid.json --baseline", 2, "option '--baseline' needs a value"},
      {"compare @/valid.json @/valid.json --objective cost", 2, "--objective expects backend_cpu"},
      {"compare @/valid.json @/valid.json --objective max_rate", 2, "max_rate needs capacity"},
      {"compare --alpha", 2, "option '--alpha' needs a value"},
      {"compare --alpha 2 @/valid.json @/valid.json", 2, "--alpha expects a number above 0"},
      {"compare --seed x @/valid.json @/valid.json", 2, "--seed expects a non-negative integer"},
      {"compare --bogus @/valid.json @/valid.json", 2, "unknown option '--bogus'"},
      {"compare @/valid.json @/valid.json", 0, "p99"},
  };
  run_cases(cases, sizeof cases / sizeof cases[0]);
}

static void test_report_bad_arguments(void **state) {
  (void)state;
  static const struct cli_case cases[] = {
      {"report", 2, "expected at least one results file or directory"},
      {"report @/empty -o @/r.html", 1, "@/empty: a directory without results files"},
      {"report @/nojson -o @/r.html", 1, "@/nojson: a directory without results files"},
      {"report @/valid.json @/empty -o @/r.html", 1, "@/empty: a directory without results"},
      {"report @/nosuch.json -o @/r.html", 1, "cannot read @/nosuch.json: no such file"},
      {"report /proc/self/mem -o @/r.html", 1, "cannot read /proc/self/mem: Input/output"},
      {"report @/bad.json -o @/r.html", 1, "@/bad.json: not a results document: malformed JSON"},
      {"report @/emptyf.json -o @/r.html", 1, "@/emptyf.json: empty file, not a results"},
      {"report @/notres.json -o @/r.html", 1, "@/notres.json: not an rbench results document"},
      {"report @/valid.json -o @/bad.json/r.html", 2,
       "cannot create directory @/bad.json: it exists and is a regular file"},
      {"report @/valid.json -o @/valid.json", 2,
       "the output @/valid.json is the input @/valid.json"},
      {"report @/valid.json -o @/empty", 2, "@/empty is a directory, not a file rbench can write"},
      {"report @/valid.json -o", 2, "option '-o' needs a value"},
      {"report @/valid.json --svg", 2, "option '--svg' needs a value"},
      {"report @/valid.json --svg pie", 2,
       "--svg expects percentiles, latency, throughput or errors"},
      {"report --bogus @/valid.json", 2, "unknown option '--bogus'"},
      {"report @/valid.json --objective max_rate -o @/r.html", 2,
       "--objective expects backend_cpu"},
      {"report @/valid.json -o @/r.html", 0, "wrote @/r.html"},
  };
  run_cases(cases, sizeof cases / sizeof cases[0]);
  char p[200];
  path_in_tmp(p, sizeof p, "r.html");
  struct stat st;
  assert_int_equal(stat(p, &st), 0); /* only the last case writes it */
}

/* Arguments with a space or empty (run_case splits on spaces). */
static void test_run_bad_values(void **state) {
  (void)state;
  struct {
    const char *opt, *value, *expect;
  } cases[] = {
      {"--action", "",
       "--action: the action name is empty: expected [pkg/]name or /namespace/[pkg/]name"},
      {"--action", "pkg/trailing ",
       "--action: action 'pkg/trailing ': 'trailing ' is not an OpenWhisk name"},
      {"--key-prefix", "a b",
       "--key-prefix: key_prefix: rbench-action would refuse it: key_prefix must not "
       "contain spaces or control characters (found one at byte 2)"},
  };
  size_t failed = 0;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *argv[] = {NULL,
                    "run",
                    "--env",
                    envfile,
                    (char *)cases[i].opt,
                    (char *)cases[i].value,
                    "--invocations",
                    "2",
                    "--progress",
                    "off",
                    NULL};
    char *log = NULL;
    int rc = run_rbench(argv, NULL, 30000, &log);
    if (rc != 2 || !strstr(log, cases[i].expect)) {
      fprintf(stderr, "case %s '%s': exit %d, want 2 and \"%s\" in:\n%s\n", cases[i].opt,
              cases[i].value, rc, cases[i].expect, log);
      failed++;
    }
    free(log);
  }
  assert_int_equal(failed, 0);
}

/* target.env_file is the scenario file's neighbour, whatever the current directory. */
static void test_scenario_env_file_beside_it(void **state) {
  (void)state;
  char text[300], scen[200], out[200];
  snprintf(text, sizeof text, "REDIS_HOST=127.0.0.1\nREDIS_PORT=%d\n", redis.port);
  write_in_tmp("sub/here.env", text);
  write_in_tmp(
      "sub/here.yaml",
      "name: here\ntarget:\n  env_file: here.env\nruns:\n  - name: a\n    invocations: 2\n");
  path_in_tmp(scen, sizeof scen, "sub/here.yaml");
  path_in_tmp(out, sizeof out, "here.json");
  char *argv[] = {NULL, "run", "-f", scen, "--output", out, "--progress", "off", NULL};
  char *log = NULL;
  int rc = run_rbench(argv, NULL, 30000, &log); /* the test's directory is not sub/ */
  if (rc != 0) fail_msg("exit %d: %s", rc, log);
  free(log);
}

static void test_doctor_bad_arguments(void **state) {
  (void)state;
  static const struct cli_case cases[] = {
      {"doctor --env", 2, "option '--env' needs a value"},
      {"doctor --bogus", 2, "unknown option '--bogus'"},
      {"doctor stray", 2, "unexpected argument 'stray'"},
      {"doctor --env @/nosuch.env", 1, "cannot read env file @/nosuch.env: no such file"},
      {"doctor --env @/empty", 1, "cannot read env file @/empty: is a directory"},
      {"doctor --env @/local.env --action-bin @/nosuch", 1, "not usable: @/nosuch: no such file"},
  };
  run_cases(cases, sizeof cases / sizeof cases[0]);
}

/* Needs a user that file permissions apply to (root reads a mode-000 file). */
static void test_unreadable_file(void **state) {
  (void)state;
  if (geteuid() == 0) skip();
  static const struct cli_case cases[] = {
      {"compare @/locked.json @/valid.json", 1, "cannot read @/locked.json: permission denied"},
      {"report @/locked.json", 1, "cannot read @/locked.json: permission denied"},
      {"run -f @/locked.json", 2, "cannot read scenario @/locked.json: permission denied"},
      {"run --env @/locked.json", 2, "cannot read env file @/locked.json: permission denied"},
  };
  run_cases(cases, sizeof cases / sizeof cases[0]);
}

/* A misspelt key is not ignored silently: a warning names it, where it is and the key meant;
 * --strict (or a scenario's strict: true) makes it a configuration error. */
static void test_unknown_env_keys(void **state) {
  (void)state;
  char text[256];
  snprintf(text, sizeof text, "REDIS_HOST=127.0.0.1\nREDIS_PORT=%d\nREDIS_PROT=6380\n", redis.port);
  write_in_tmp("typo.env", text);
  write_in_tmp("strict.yaml", "name: s\nstrict: true\nruns:\n  - name: a\n    invocations: 2\n");
  static const struct cli_case cases[] = {
      {"run --env @/typo.env --rate 50 --invocations 2 --progress off --output @/typo.json", 0,
       "@/typo.env:3: unknown key REDIS_PROT (did you mean REDIS_PORT?)"},
      {"run --strict --env @/typo.env --rate 50 --invocations 2 --progress off --output @/t2.json",
       2, "@/typo.env:3: unknown key REDIS_PROT (did you mean REDIS_PORT?)"},
      {"run -f @/strict.yaml --env @/typo.env --progress off --output @/t3/", 2,
       "unknown key REDIS_PROT (did you mean REDIS_PORT?)"},
  };
  run_cases(cases, sizeof cases / sizeof cases[0]);
  char out[200];
  path_in_tmp(out, sizeof out, "typo.json");
  assert_int_equal(access(out, F_OK), 0); /* a warning only: the run went ahead */
  path_in_tmp(out, sizeof out, "t2.json");
  assert_int_not_equal(access(out, F_OK), 0); /* strict: nothing ran */
  /* The same for the environment, which has no line to name. */
  setenv("BATCHING_AGENT_PROT", "1", 1);
  static const struct cli_case env_cases[] = {
      {"run --strict --env @/local.env --rate 50 --invocations 2 --progress off --output @/t4.json",
       2, "unknown key BATCHING_AGENT_PROT (did you mean BATCHING_AGENT_PORT?)"},
  };
  run_cases(env_cases, 1);
  unsetenv("BATCHING_AGENT_PROT");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_top_level),
      cmocka_unit_test(test_run_bad_arguments),
      cmocka_unit_test(test_compare_bad_arguments),
      cmocka_unit_test(test_report_bad_arguments),
      cmocka_unit_test(test_doctor_bad_arguments),
      cmocka_unit_test(test_run_bad_values),
      cmocka_unit_test(test_scenario_env_file_beside_it),
      cmocka_unit_test(test_unreadable_file),
      cmocka_unit_test(test_unknown_env_keys),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
