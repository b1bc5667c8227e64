/* placeholder: being written */
typedef int upm_placeholder_t;
