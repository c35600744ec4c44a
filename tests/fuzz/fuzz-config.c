/* Fuzz target: weftd's configuration file parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weft-config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';

    struct weft_config cfg;
    char *error;
    if (!weft_config_parse_string(text, "fuzz.conf", &cfg, &error)) {
        weft_config_destroy(&cfg);
    } else {
        free(error);
    }
    free(text);
    return 0;
}
