/* placeholder: being written */
typedef int gstupmbin_placeholder_t;
