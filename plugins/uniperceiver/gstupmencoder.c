/* placeholder: being written */
#include "gstupmelements.h"
gboolean
gst_element_register_upmencoder (GstPlugin * plugin)
{
  return TRUE;
}
