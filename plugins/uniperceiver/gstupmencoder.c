/* placeholder: being written */
typedef int gstupmencoder_placeholder_t;
