/* Small libxml2 tree helpers shared by the libvirt XML readers
 * (domain-xml.c, virt-net.c).  Pure. */
#ifndef WEFT_XML_UTIL_H
#define WEFT_XML_UTIL_H 1

#include <stdbool.h>

#include <libxml/tree.h>

/* Parses 'xml' (no network access, no messages on stderr); NULL if it is
 * not well-formed (xmlGetLastError() says why).  'name' names it in
 * libxml2's errors.  Free with xmlFreeDoc(). */
xmlDoc *xml_read(const char *xml, const char *name);

/* True if 'node' is an element called 'name' (any namespace). */
bool xml_is_element(const xmlNode *node, const char *name);

/* The first child element of 'parent' called 'name'; NULL if none or if
 * 'parent' is NULL. */
const xmlNode *xml_child(const xmlNode *parent, const char *name);

/* A malloc'd copy of attribute 'name' of 'node', NULL if absent or if
 * 'node' is NULL. */
char *xml_attr(const xmlNode *node, const char *name);

/* A malloc'd copy of the text content of 'node', NULL if 'node' is
 * NULL. */
char *xml_text(const xmlNode *node);

#endif /* xml-util.h */
