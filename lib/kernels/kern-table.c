/* kern-table.c: the table of this level's kernels (compiled once per ISA
 * level, as upm_kernels_<level>).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm-kernels.h"

const UpmKernels UPM_K (upm_kernels) = {
  .gelu = UPM_K (upm_gelu),
  .exp = UPM_K (upm_exp),
  .softmax = UPM_K (upm_softmax),
  .log_softmax = UPM_K (upm_log_softmax),
  .l2_normalize = UPM_K (upm_l2_normalize),
  .scaled_residual = UPM_K (upm_scaled_residual),
  .layer_norm = UPM_K (upm_layer_norm),
  .f32_to_f16_row = UPM_K (upm_f32_to_f16_row),
  .linear_part = UPM_K (upm_linear_part),
  .linear_acc = UPM_K (upm_linear_acc),
  .matmul_rows = UPM_K (upm_matmul_rows),
  .kv_pack = UPM_K (upm_kv_pack),
  .kv_pack_at = UPM_K (upm_kv_pack_at),
  .attention_packed = UPM_K (upm_attention_packed),
  .attention = UPM_K (upm_attention),
  .attention_groups = UPM_K (upm_attention_groups),
};
