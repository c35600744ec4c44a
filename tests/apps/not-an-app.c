/* A plain shared object: no weft_app symbol. */
__attribute__((visibility("default"))) int not_an_app(void);

int
not_an_app(void)
{
    return 42;
}
