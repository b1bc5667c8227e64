/* placeholder: being written */
#include "gstupmelements.h"
gboolean
gst_element_register_upmtransformer (GstPlugin * plugin)
{
  return TRUE;
}
