/* job_redact.c: masking secrets in text (see job_redact.h). */
#include "job_redact.h"

#include <string.h>

void job_redact(char *s, size_t size, const char *const *secrets) {
  for (size_t i = 0; secrets && secrets[i]; i++) {
    const char *sec = secrets[i];
    size_t sl = strlen(sec);
    if (sl == 0) continue;
    char *from = s, *hit;
    while ((hit = strstr(from, sec)) != NULL) {
      size_t pos = (size_t)(hit - s);
      size_t tail = strlen(hit + sl);
      if (pos + 3 >= size) { /* no room even for the mask: cut here */
        *hit = '\0';
        break;
      }
      if (pos + 3 + tail + 1 > size) tail = size - pos - 4;
      memmove(hit + 3, hit + sl, tail);
      memcpy(hit, "***", 3);
      hit[3 + tail] = '\0';
      from = hit + 3;
    }
  }
}
