/* placeholder: being written */
typedef int gstupmhead_placeholder_t;
