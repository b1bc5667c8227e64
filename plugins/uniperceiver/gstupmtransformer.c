/* placeholder: being written */
typedef int gstupmtransformer_placeholder_t;
