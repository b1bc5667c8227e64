/* placeholder: being written */
typedef int gstupmcommon_placeholder_t;
