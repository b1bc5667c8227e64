/* placeholder: being written */
typedef int gstupmtokenizer_placeholder_t;
