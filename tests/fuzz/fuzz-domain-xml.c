/* Fuzz target: the libvirt domain XML reader (what weftd reads from every
 * hypervisor's libvirtd), then the inventory that consumes its result. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain-xml.h"
#include "inventory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';

    struct domain_info d;
    char *error;
    if (!domain_xml_parse(text, &d, &error)) {
        struct domain_info copy;
        domain_info_clone(&copy, &d);

        struct inventory inv;
        inventory_init(&inv);
        inventory_add_host(&inv, "h1");
        inventory_sync_host(&inv, "h1", &copy, 1);
        inventory_domain_down(&inv, "h1", copy.uuid);
        inventory_destroy(&inv);

        domain_info_destroy(&copy);
        domain_info_destroy(&d);
    } else {
        free(error);
    }
    free(text);
    return 0;
}
