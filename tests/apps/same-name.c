/* Another file whose app calls itself "good". */
#include <weft/app.h>

WEFT_APP_DEFINE(.name = "good");
