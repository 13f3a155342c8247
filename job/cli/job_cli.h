/* job_cli.h: the compare, report, doctor and merge subcommands (argv as after the command name). */
#ifndef JOB_CLI_H
#define JOB_CLI_H

/* Prints why getopt_long (optstring starting with ':') returned ch ('?' unknown option, ':'
 * missing value) as "rbench CMD: ...", naming the option. */
void job_cli_option_error(const char *cmd, int ch, char **argv);

int job_compare_main(int argc, char **argv);
int job_report_main(int argc, char **argv);
int job_doctor_main(int argc, char **argv);
int job_merge_main(int argc, char **argv);

#endif
