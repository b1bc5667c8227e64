/* placeholder: being written */
#include "gstupmelements.h"
gboolean
gst_element_register_upmhead (GstPlugin * plugin)
{
  return TRUE;
}
