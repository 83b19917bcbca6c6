// Koa 2 installed under an alias for the version matrix; its API is the one @types/koa describes.
declare module 'koa2' {
  import Koa from 'koa';
  export default Koa;
}
