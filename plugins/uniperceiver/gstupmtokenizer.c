/* placeholder: being written */
#include "gstupmelements.h"
gboolean
gst_element_register_upmtokenizer (GstPlugin * plugin)
{
  return TRUE;
}
