#include <stdio.h>
#include "job_cli.h"
int job_compare_main(int argc, char **argv) { (void)argc; (void)argv; return 1; }
int job_report_main(int argc, char **argv) { (void)argc; (void)argv; return 1; }
int job_doctor_main(int argc, char **argv) { (void)argc; (void)argv; return 1; }
