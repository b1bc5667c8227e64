/* placeholder */
typedef int upmmeta_placeholder_t;
