/* libxml2 tree helpers (see xml-util.h). */
#include "xml-util.h"
#include "xalloc.h"

#include <string.h>

#include <libxml/parser.h>

xmlDoc *
xml_read(const char *xml, const char *name)
{
    return xmlReadMemory(xml, strlen(xml), name, NULL,
                         XML_PARSE_NONET | XML_PARSE_NOERROR
                         | XML_PARSE_NOWARNING);
}

bool
xml_is_element(const xmlNode *node, const char *name)
{
    return (node->type == XML_ELEMENT_NODE
            && !strcmp((const char *) node->name, name));
}

const xmlNode *
xml_child(const xmlNode *parent, const char *name)
{
    for (const xmlNode *c = parent ? parent->children : NULL; c;
         c = c->next) {
        if (xml_is_element(c, name)) {
            return c;
        }
    }
    return NULL;
}

char *
xml_attr(const xmlNode *node, const char *name)
{
    if (!node) {
        return NULL;
    }
    xmlChar *value = xmlGetProp(node, (const xmlChar *) name);
    char *copy = xstrdup((const char *) value);
    xmlFree(value);
    return copy;
}

char *
xml_text(const xmlNode *node)
{
    if (!node) {
        return NULL;
    }
    xmlChar *content = xmlNodeGetContent(node);
    char *copy = xstrdup((const char *) content);
    xmlFree(content);
    return copy;
}
