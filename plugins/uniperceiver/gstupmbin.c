/* placeholder: being written */
#include "gstupmelements.h"
gboolean
gst_element_register_upmbin (GstPlugin * plugin)
{
  return TRUE;
}
